import type { ServiceContext } from "../../core/context";
import { controlDb } from "../../core/db/databases";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { SecurityPolicyErrors } from "./security-policy.errors";
import { findStoredPolicy, updateStoredPolicy } from "./security-policy.repo";
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
  const stored = await findStoredPolicy(await controlDb(env), tenantId);
  return parsePolicy(stored?.policy ?? {});
}

/** After this isolate changed a tenant's policy. */
export function forgetSecurityPolicy(tenantId: string): void {
  cache.delete(tenantId);
}

const WRITE_ATTEMPTS = 3;

function tenantGone(tenantId: string): ApiError {
  return new ApiError(CoreErrors.NOT_FOUND, { detail: `No tenant ${tenantId}.` });
}

/** The policy of the request's tenant, with its ETag (the tenant row's version). */
export async function readSecurityPolicy(ctx: ServiceContext): Promise<{ policy: SecurityPolicy; etag: string }> {
  const stored = await findStoredPolicy(await controlDb(ctx.env), ctx.scope);
  if (!stored) throw tenantGone(ctx.scope);
  return { policy: parsePolicy(stored.policy), etag: etagOf(stored.version) };
}

/**
 * Replaces the tenant's policy. The policy lives in CONTROL_DB beside the tenant (the login path reads it with
 * the tenant) and the tenant's audit trail in the tenant's own database, so the two cannot share a batch: the
 * policy is written first, guarded by the tenant row's version, then its audit event
 * (`tenant.security_policy_updated`, changes = the diff). Should that second write fail, the change stands
 * unaudited and the request answers 500 (docs/security.md).
 */
export async function replaceSecurityPolicy(
  ctx: ServiceContext,
  next: SecurityPolicy,
  ifMatch: string | undefined,
): Promise<{ policy: SecurityPolicy; etag: string }> {
  const control = await controlDb(ctx.env);
  const tenantId = ctx.scope;
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const stored = await findStoredPolicy(control, tenantId);
    if (!stored) throw tenantGone(tenantId);
    assertIfMatch(ifMatch, etagOf(stored.version));
    const current = parsePolicy(stored.policy);
    const changes = diffChanges(current, next);
    if (Object.keys(changes).length === 0) return { policy: current, etag: etagOf(stored.version) };
    const at = new Date().toISOString();
    const written = await updateStoredPolicy(control, tenantId, stored.version, next, at).run();
    if (!written.meta.changes) continue;
    forgetSecurityPolicy(tenantId);
    const audit = await auditStatement(
      ctx,
      { action: "tenant.security_policy_updated", resource: { type: "tenant", id: tenantId }, changes },
      { at },
    );
    await audit.run();
    return { policy: next, etag: etagOf(stored.version + 1) };
  }
  throw new ApiError(SecurityPolicyErrors.SECURITY_POLICY_WRITE_CONFLICT, {
    detail: `Tenant ${tenantId} changed ${WRITE_ATTEMPTS} times while this request tried to write its policy.`,
  });
}
