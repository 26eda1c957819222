import type { MiddlewareHandler } from "hono";
import type { AppEnv, Auth } from "../../env";
import { ApiError, CoreErrors } from "../errors";
import { type Feature, featureNotInPlan, planIncludes } from "../plans";
import { announceRateLimit, stampRateLimit } from "../rate-limit/middleware";
import { ACCOUNT_HEADER, actOnAccount } from "./account";
import { authenticate } from "./credentials";
import type { Permission } from "./permissions";

export type CredentialKind = "admin" | "tenant";

export interface Access {
  /** Kinds of credential the route accepts. */
  kinds: readonly CredentialKind[];
  /** What a tenant credential needs (the admin token may do everything it is let in for). */
  permission?: Permission;
  /** The plan feature the route belongs to; a tenant whose plan lacks it is refused (403 FEATURE_NOT_IN_PLAN). */
  feature?: Feature;
  /**
   * The path parameter naming a user: an end user's own token passes without the permission when it names
   * themself (their profile, password, second factor), so `basic` users can look after their own account.
   */
  self?: string;
}

/**
 * Authenticates the request, then requires one of the given kinds of credential, resolves the sub-account a
 * tenant credential acts on (`Uom-Account`, account.ts), then requires the route's feature in the plan of the
 * tenant acted on (DESIGN.md: the plan gate comes before the permission check) and the route's permission there.
 */
export function requireCredential(access: Access): MiddlewareHandler<AppEnv> {
  return async function credentialMiddleware(c, next) {
    let auth = await authenticate(c.env, c.req.header("authorization"), new URL(c.req.url).origin, (promise) =>
      c.executionCtx.waitUntil(promise),
    );
    // known from here, so the usage analytics count refusals too (429, 403)
    c.set("auth", auth);
    const headers = announceRateLimit(c, auth.kind === "tenant" ? auth.rateLimit : undefined);
    if (!access.kinds.includes(auth.kind)) {
      throw access.kinds.includes("tenant")
        ? new ApiError(CoreErrors.TENANT_CREDENTIAL_REQUIRED, {
            detail: "Use a tenant credential (API key or access token); the platform admin token manages tenants.",
          })
        : new ApiError(CoreErrors.ADMIN_CREDENTIAL_REQUIRED, {
            detail: "Only the platform admin token manages tenants.",
          });
    }
    const account = c.req.header(ACCOUNT_HEADER);
    if (account !== undefined) {
      if (auth.kind === "admin") {
        throw new ApiError(CoreErrors.BAD_REQUEST, {
          detail:
            "The platform admin token names tenants in paths (/v1/tenants/{id}); Uom-Account is for tenant credentials.",
        });
      }
      auth = await actOnAccount(c.env, auth, account.trim());
    }
    c.set("auth", auth);
    if (auth.kind === "tenant" && access.feature && !planIncludes(auth.tenant.plan, access.feature)) {
      throw featureNotInPlan(access.feature, auth.tenant.plan);
    }
    if (!allowed(auth, access, access.self ? c.req.param(access.self) : undefined)) {
      throw new ApiError(CoreErrors.FORBIDDEN, {
        detail: `This credential lacks the permission ${access.permission}.`,
      });
    }
    await next();
    stampRateLimit(c, headers);
  };
}

function allowed(auth: Auth, access: Access, selfId: string | undefined): boolean {
  if (auth.kind === "admin" || !access.permission) return true;
  if (auth.permissions.has(access.permission)) return true;
  // on a sub-account the actor is not one of its users: no self-service there
  return selfId !== undefined && !auth.home && auth.actor.type === "user" && auth.actor.id === selfId;
}
