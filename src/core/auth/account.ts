import type { Auth, TenantRef } from "../../env";
import { controlDb } from "../db/databases";
import { ApiError, defineErrors } from "../errors";
import type { Plan } from "../plans";
import { Grants } from "./grants";
import type { AccountRights } from "./permissions";

/**
 * Acting on a sub-account (docs/sub-accounts.md): a tenant credential that sends `Uom-Account: <tenant id>` (in
 * the manner of Stripe's `Stripe-Account`) acts on that tenant instead of its own, when the tenant is a strict
 * descendant of its own and the credential holds rights there: `sub-accounts:act` (its grants then apply there),
 * or role assignments scoped to that account or to an account between (`manager@ten_…`, assignments.ts).
 * Anything else (an unknown id, the parent, a sibling, no rights) is the same 404: no existence oracle.
 */

export const ACCOUNT_HEADER = "uom-account";

/** The deepest a tenant may sit: a root tenant is depth 1. */
export const MAX_ACCOUNT_DEPTH = 3;

export const AccountErrors = defineErrors({
  ACCOUNT_NOT_FOUND: { status: 404, title: "No such account for this credential" },
});

/** A tenant and its ancestors, nearest first (its parent, then the parent's parent, …). */
export interface AccountChain {
  tenant: TenantRef;
  ancestors: readonly string[];
}

export type TenantAuth = Extract<Auth, { kind: "tenant" }>;

interface ChainRow {
  id: string;
  plan: Plan;
  parent_id: string | null;
  database_binding: string;
}

/**
 * The tenant and its ancestors in one query (a recursive walk up `parent_id`), fresh from the control database.
 * The walk stops a little past the depth limit, so a cycle (there is none: parent_id never changes) cannot loop.
 */
export async function loadAccountChain(control: D1Database, id: string): Promise<AccountChain | null> {
  const { results } = await control
    .prepare(
      `WITH RECURSIVE chain(id, plan, parent_id, database_binding, depth) AS (
         SELECT id, plan, parent_id, database_binding, 0 FROM tenants WHERE id = ?1
         UNION ALL
         SELECT t.id, t.plan, t.parent_id, t.database_binding, c.depth + 1
         FROM tenants t JOIN chain c ON t.id = c.parent_id WHERE c.depth < ?2
       )
       SELECT id, plan, parent_id, database_binding FROM chain ORDER BY depth`,
    )
    .bind(id, MAX_ACCOUNT_DEPTH + 2)
    .all<ChainRow>();
  const [self, ...ancestors] = results;
  if (!self) return null;
  return {
    tenant: { id: self.id, plan: self.plan, parentId: self.parent_id, databaseBinding: self.database_binding },
    ancestors: ancestors.map((row) => row.id),
  };
}

interface CacheEntry {
  chain: Promise<AccountChain | null>;
  until: number;
  /** The account and its ancestors, once the lookup has answered. */
  lineage?: readonly string[];
}

/**
 * Chains by account id, per isolate for CREDENTIAL_CACHE_SECONDS (unknown ids briefly): a warm request with the
 * header costs no query. A parent never changes, so a cached chain goes stale only by a deletion or a plan change,
 * which drop it in this isolate (forgetAccount); elsewhere it lives out its seconds, as cached credentials do, and
 * a deleted tenant's database rests longer than that before another tenant gets it.
 */
const cache = new Map<string, CacheEntry>();
const MAX_ENTRIES = 10_000;
const NEGATIVE_SECONDS = 2;
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function accountChain(env: Env, id: string): Promise<AccountChain | null> {
  if (!ACCOUNT_ID.test(id)) return null;
  const now = Date.now();
  const hit = cache.get(id);
  if (hit && hit.until > now) return hit.chain;
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  const entry: CacheEntry = {
    chain: controlDb(env).then((control) => loadAccountChain(control, id)),
    until: now + NEGATIVE_SECONDS * 1000,
  };
  cache.set(id, entry);
  try {
    const chain = await entry.chain;
    if (chain) {
      entry.until = now + Number(env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000;
      entry.lineage = [chain.tenant.id, ...chain.ancestors];
    }
    return chain;
  } catch (error) {
    if (cache.get(id) === entry) cache.delete(id);
    throw error;
  }
}

/**
 * Drops this isolate's cached chains of a tenant and of the tenants below it (it was deleted or changed), and
 * any lookup still under way, which may have read the tenant before the change.
 */
export function forgetAccount(tenantId: string): void {
  for (const [id, entry] of cache) {
    if (!entry.lineage || entry.lineage.includes(tenantId)) cache.delete(id);
  }
}

/**
 * The accounts from just below `homeId` down to the account itself, when the account is a strict descendant of
 * `homeId`; null otherwise (the home itself, an ancestor, a sibling, another tenant's).
 */
export function chainBelow(chain: AccountChain, homeId: string): string[] | null {
  const at = chain.ancestors.indexOf(homeId);
  if (at < 0) return null;
  return [...chain.ancestors.slice(0, at).reverse(), chain.tenant.id];
}

/** What a credential holds: its grants in its own tenant, and its assignments scoped to sub-accounts. */
export interface CredentialRights {
  permissions: Grants;
  scoped?: ReadonlyMap<string, Grants> | undefined;
}

/**
 * What a credential holds in the account at the end of `below` (chainBelow): its own grants if they include
 * `sub-accounts:act`, plus the grants of its assignments scoped to any account on the way. Null when it has
 * neither: it may not act there at all.
 */
export function rightsIn(credential: CredentialRights, below: readonly string[]): Grants | null {
  const inherited = credential.permissions.has("sub-accounts:act");
  const scoped = below.flatMap((id) => {
    const grants = credential.scoped?.get(id);
    return grants ? [grants] : [];
  });
  if (!inherited && scoped.length === 0) return null;
  return scoped.reduce((all, grants) => all.union(grants), inherited ? credential.permissions : Grants.NONE);
}

function accountNotFound(): ApiError {
  return new ApiError(AccountErrors.ACCOUNT_NOT_FOUND, {
    detail: "No sub-account of this credential's tenant with that id that the credential may act on (Uom-Account).",
  });
}

/**
 * The request's Auth when it acts on `accountId`: the account becomes the tenant (its plan gates features, its
 * database serves the request), the permissions are the credential's rights there, and `home` keeps the
 * credential's own tenant. The credential's own tenant id is a no-op. One cached lookup.
 */
export async function actOnAccount(env: Env, auth: TenantAuth, accountId: string): Promise<TenantAuth> {
  if (accountId === auth.tenant.id) return auth;
  const chain = await accountChain(env, accountId);
  const below = chain ? chainBelow(chain, auth.tenant.id) : null;
  const rights = below ? rightsIn(auth, below) : null;
  if (!chain || !rights) throw accountNotFound();
  return { ...auth, tenant: chain.tenant, permissions: rights, home: auth.tenant };
}

/** The account and its ancestors, when this isolate has them at hand (a lookup answered, not expired). */
function cachedLineage(id: string): readonly string[] | undefined {
  const hit = cache.get(id);
  return hit && hit.until > Date.now() ? hit.lineage : undefined;
}

/**
 * What the caller holds in a sub-account below the tenant it acts in, without a query (for role assignments
 * scoped to one, permissions.ts rolesBeyond): its grants, if it holds `sub-accounts:act` or already acts on a
 * sub-account (rights only grow down the chain, rightsIn), plus its assignments scoped to the accounts from just
 * below that tenant down to this one. The accounts between are known when the account's chain is cached (the
 * assignment's validation looked it up); otherwise only the account's own assignments count, which errs on the
 * side of refusing.
 */
export function accountRightsOf(auth: TenantAuth): AccountRights {
  const inherited = auth.home || auth.permissions.has("sub-accounts:act") ? auth.permissions : Grants.NONE;
  return (accountId) => {
    const lineage = cachedLineage(accountId) ?? [accountId];
    const at = lineage.indexOf(auth.tenant.id);
    const below = at < 0 ? [accountId] : lineage.slice(0, at);
    return below.reduce((all, id) => {
      const scoped = auth.scoped?.get(id);
      return scoped ? all.union(scoped) : all;
    }, inherited);
  };
}
