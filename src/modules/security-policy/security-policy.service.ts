import { controlDb } from "../../core/db/databases";
import { type SecurityPolicy, SecurityPolicySchema } from "./security-policy.schema";

interface Cached {
  policy: Promise<SecurityPolicy>;
  until: number;
}

/**
 * Policies are read on every login and every cross-origin response, so each isolate keeps them for
 * CREDENTIAL_CACHE_SECONDS (a policy change reaches every isolate within that time; it revokes nothing, so
 * it may lag like a cached key does).
 */
const cache = new Map<string, Cached>();

export function parsePolicy(stored: unknown): SecurityPolicy {
  return SecurityPolicySchema.parse(stored ?? {});
}

export function securityPolicyOf(env: Env, tenantId: string): Promise<SecurityPolicy> {
  const now = Date.now();
  const hit = cache.get(tenantId);
  if (hit && hit.until > now) return hit.policy;
  const policy = load(env, tenantId);
  cache.set(tenantId, { policy, until: now + Number(env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000 });
  policy.catch(() => cache.delete(tenantId));
  return policy;
}

async function load(env: Env, tenantId: string): Promise<SecurityPolicy> {
  const row = await (await controlDb(env))
    .prepare("SELECT security_policy FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ security_policy: string }>();
  return parsePolicy(row ? JSON.parse(row.security_policy) : {});
}

/** After this isolate changed a tenant's policy. */
export function forgetSecurityPolicy(tenantId: string): void {
  cache.delete(tenantId);
}
