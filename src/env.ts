import type { Grants } from "./core/auth/grants";
import type { Plan } from "./core/plans";
import type { RateDecision } from "./core/rate-limit/bucket";

/** Who is acting: recorded in audit events and used by permission checks. */
export type Actor =
  | { type: "admin"; id: "admin" }
  | { type: "api_key"; id: string }
  | { type: "user"; id: string }
  | { type: "client"; id: string }
  | { type: "system"; id: string };

/**
 * The tenant a request acts on: the credential's tenant, or one of its sub-accounts named by the `Uom-Account`
 * header (core/auth/account.ts).
 */
export interface TenantRef {
  id: string;
  plan: Plan;
  parentId: string | null;
  databaseBinding: string;
}

export type Auth =
  | { kind: "admin"; actor: Actor }
  | {
      kind: "tenant";
      actor: Actor;
      tenant: TenantRef;
      /** The roles the credential holds (an OAuth client's token: its client's roles; none known: empty). */
      roles: readonly string[];
      /**
       * What this credential may do in `tenant`: from its roles (API key, client) or its token's granted scope; on a
       * sub-account, its rights there (core/auth/account.ts).
       */
      permissions: Grants;
      /**
       * What its role assignments scoped to sub-accounts (`manager@ten_…`) grant, by account id; they grant nothing
       * in the credential's own tenant. Absent: none.
       */
      scoped?: ReadonlyMap<string, Grants>;
      /** Set when the request acts on a sub-account (`Uom-Account`): the credential's own tenant. */
      home?: TenantRef;
      /** The request against the credential's rate limit (absent: the limiter failed open). */
      rateLimit?: RateDecision;
      /** The dated API version an API key is pinned to (docs/versioning.md); absent for access tokens. */
      apiVersion?: string;
    };

/** Facts about the request that audit events record. */
export interface RequestInfo {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    auth: Auth;
    /** The request counts against requestsPerMonth (core/usage/monthly-requests.ts). */
    quotaCounted?: boolean;
  };
};
