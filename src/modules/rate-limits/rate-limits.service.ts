import { forgetTenantCredentials } from "../../core/auth/credentials";
import type { ServiceContext } from "../../core/context";
import { controlDb } from "../../core/db/databases";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { validationError } from "../../core/http/validation";
import { PLAN_CONFIG, type Plan } from "../../core/plans";
import {
  activeBoost,
  appliedPolicy,
  parseKeyPolicy,
  planDefault,
  type RatePolicy,
  type TenantRateLimits,
} from "../../core/rate-limit/policy";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { RateLimitErrors } from "./rate-limits.errors";
import { findKeyLimit, findTenantLimits, updateKeyLimit, updateTenantLimits } from "./rate-limits.repo";
import type { PutRateLimitInput, RateLimitView, StartBoostInput } from "./rate-limits.schema";

/**
 * GET/PUT/DELETE /v1/rate-limits and the campaign boost (docs/rate-limits.md). The tenant's policy and boost live on
 * its CONTROL_DB row (authentication reads them with the tenant), a key's policy on its row; both are cached with
 * the credential, so other isolates apply a change within CREDENTIAL_CACHE_SECONDS (this one at once).
 */
interface Scope {
  scope: "tenant" | "apiKey";
  apiKeyId?: string | undefined;
}

const WRITE_ATTEMPTS = 3;

export async function readRateLimit(ctx: ServiceContext, scope: Scope): Promise<RateLimitView> {
  const key = await keyOf(ctx, scope);
  const { limits } = await tenantLimits(ctx);
  return view(ctx, scope, limits, key ? parseKeyPolicy(key.rate_limit) : null);
}

export async function putRateLimit(ctx: ServiceContext, input: PutRateLimitInput): Promise<RateLimitView> {
  const policy: RatePolicy = { algorithm: input.algorithm, burst: input.burst, ratePerSecond: input.ratePerSecond };
  assertWithinPlan(ctx, policy);
  return input.scope === "apiKey"
    ? setKeyPolicy(ctx, input, policy)
    : changeTenant(ctx, (l) => ({ ...l, policy }), input);
}

/** Back to what the scope inherits: a key to its tenant's policy, the tenant to its plan's default. */
export async function resetRateLimit(ctx: ServiceContext, scope: Scope): Promise<RateLimitView> {
  if (scope.scope === "apiKey") return setKeyPolicy(ctx, scope, null);
  return changeTenant(ctx, ({ policy: _dropped, ...rest }) => rest, scope);
}

export async function startBoost(ctx: ServiceContext, input: StartBoostInput): Promise<RateLimitView> {
  const now = Date.now();
  return changeTenant(
    ctx,
    (limits) => {
      const running = activeBoost(limits, now);
      if (running) {
        throw new ApiError(RateLimitErrors.BOOST_RUNNING, {
          detail: `A ×${running.multiplier} boost runs until ${running.endsAt}; end it (DELETE /v1/rate-limits/boost) first.`,
        });
      }
      const startsAt = new Date(now).toISOString();
      const endsAt = new Date(now + input.hours * 3_600_000).toISOString();
      return { ...limits, boost: { multiplier: input.multiplier, startsAt, endsAt } };
    },
    { scope: "tenant" },
  );
}

/** Ends a running boost early (no boost: nothing changes). */
export async function endBoost(ctx: ServiceContext): Promise<RateLimitView> {
  return changeTenant(ctx, ({ boost: _ended, ...rest }) => rest, { scope: "tenant" });
}

function planOf(ctx: ServiceContext): Plan {
  if (!ctx.tenant) throw new Error("rate limits are a tenant's");
  return ctx.tenant.plan;
}

function assertWithinPlan(ctx: ServiceContext, policy: RatePolicy): void {
  const plan = planOf(ctx);
  const { max } = PLAN_CONFIG[plan].rateLimits;
  const errors: FieldError[] = [];
  if (policy.burst > max.burst) {
    errors.push({
      field: "burst",
      code: "above_plan_maximum",
      detail: `The ${plan} plan allows at most ${max.burst}.`,
    });
  }
  if (policy.ratePerSecond > max.ratePerSecond) {
    errors.push({
      field: "ratePerSecond",
      code: "above_plan_maximum",
      detail: `The ${plan} plan allows at most ${max.ratePerSecond}.`,
    });
  }
  if (errors.length > 0) throw validationError(errors);
}

async function keyOf(ctx: ServiceContext, scope: Scope) {
  if (scope.scope === "tenant") {
    if (scope.apiKeyId !== undefined) {
      throw validationError([{ field: "apiKeyId", code: "not_allowed", detail: "Only with scope=apiKey." }]);
    }
    return null;
  }
  if (!scope.apiKeyId) {
    throw validationError([{ field: "apiKeyId", code: "required", detail: "scope=apiKey names the key." }]);
  }
  const key = await findKeyLimit(ctx.db, scope.apiKeyId);
  if (!key) throw new ApiError(CoreErrors.NOT_FOUND, { detail: `No active API key ${scope.apiKeyId}.` });
  return key;
}

async function tenantLimits(ctx: ServiceContext) {
  const stored = await findTenantLimits(await controlDb(ctx.env), ctx.scope);
  if (!stored) throw new ApiError(CoreErrors.NOT_FOUND, { detail: `No tenant ${ctx.scope}.` });
  return stored;
}

function view(
  ctx: ServiceContext,
  scope: Scope,
  limits: TenantRateLimits,
  keyPolicy: RatePolicy | null,
): RateLimitView {
  const plan = planOf(ctx);
  const [source, shown]: [RateLimitView["source"], RatePolicy] = keyPolicy
    ? ["apiKey", keyPolicy]
    : limits.policy
      ? ["tenant", limits.policy]
      : ["plan", planDefault(plan)];
  const effective = appliedPolicy(plan, limits, keyPolicy);
  const boost = activeBoost(limits);
  return {
    scope: scope.scope,
    apiKeyId: scope.scope === "apiKey" ? (scope.apiKeyId ?? null) : null,
    ...shown,
    source,
    effective: { algorithm: effective.algorithm, burst: effective.burst, ratePerSecond: effective.ratePerSecond },
    bounds: PLAN_CONFIG[plan].rateLimits,
    boost: boost ? { multiplier: boost.multiplier, startsAt: boost.startsAt, endsAt: boost.endsAt } : null,
  };
}

/**
 * A change of the tenant's limits: CONTROL_DB first, guarded by the row's version, then its audit event in the
 * tenant's trail (the two databases share no batch; as with the security policy, a failed second write leaves
 * the change unaudited and answers 500).
 */
async function changeTenant(
  ctx: ServiceContext,
  change: (limits: TenantRateLimits) => TenantRateLimits,
  scope: Scope,
): Promise<RateLimitView> {
  await keyOf(ctx, scope);
  const control = await controlDb(ctx.env);
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const { limits, version } = await tenantLimits(ctx);
    const next = change(limits);
    const changes = diffChanges(limits, next);
    if (Object.keys(changes).length === 0) return view(ctx, scope, limits, null);
    const at = new Date().toISOString();
    const written = await updateTenantLimits(control, ctx.scope, version, next, at).run();
    if (!written.meta.changes) continue;
    forgetTenantCredentials(ctx.scope);
    const resource = { type: "tenant", id: ctx.scope };
    await (await auditStatement(ctx, { action: "tenant.rate_limits_updated", resource, changes }, { at })).run();
    return view(ctx, scope, next, null);
  }
  throw new ApiError(RateLimitErrors.RATE_LIMITS_WRITE_CONFLICT, {
    detail: `Tenant ${ctx.scope} changed ${WRITE_ATTEMPTS} times while this request tried to write its rate limits.`,
  });
}

/** A key's own policy (null: none), with its audit row in one batch. */
async function setKeyPolicy(ctx: ServiceContext, scope: Scope, policy: RatePolicy | null): Promise<RateLimitView> {
  const key = await keyOf(ctx, scope);
  if (!key) throw new Error("unreachable: scope=apiKey has a key");
  const before = parseKeyPolicy(key.rate_limit);
  const changes = diffChanges({ rateLimit: before }, { rateLimit: policy });
  const { limits } = await tenantLimits(ctx);
  if (Object.keys(changes).length === 0) return view(ctx, scope, limits, before);
  try {
    await ctx.db.batch([
      updateKeyLimit(ctx.db, key.id, key.version, policy ? JSON.stringify(policy) : null),
      assertPreviousChanged(ctx.db),
      await auditStatement(ctx, {
        action: "api_key.rate_limit_updated",
        resource: { type: "api_key", id: key.id },
        changes,
      }),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    if (isAssertionFailure(error)) {
      throw new ApiError(CoreErrors.CONFLICT, { detail: `API key ${key.id} changed meanwhile (revoked or rotated).` });
    }
    throw error;
  }
  forgetTenantCredentials(ctx.scope);
  return view(ctx, scope, limits, policy);
}
