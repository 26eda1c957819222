import type { ServiceContext } from "../../core/context";
import type { ApiError } from "../../core/errors";
import { PLAN_CONFIG, type Plan, quotaExceeded } from "../../core/plans";
import { countUsers } from "./plans.repo";

/**
 * The `maxUsers` quota of a create request: the plan's limit and the users stored now (one count query), or null
 * when the plan has no limit (no query). Soft-deleted users count (they can be restored) until purged.
 * Checked before writing, so creates racing each other at the limit may pass it by as many as race.
 */
export interface UserQuota {
  plan: Plan;
  limit: number;
  used: number;
}

export async function userQuota(ctx: ServiceContext): Promise<UserQuota | null> {
  const plan = ctx.tenant?.plan;
  const limit = plan ? PLAN_CONFIG[plan].quotas.maxUsers : null;
  if (!plan || limit === null) return null;
  return { plan, limit, used: await countUsers(ctx.db) };
}

/** 403 QUOTA_EXCEEDED when one more user would pass the limit, `admitted` being the creates this request let through. */
export function userQuotaError(quota: UserQuota | null, admitted = 0): ApiError | null {
  if (!quota || quota.used + admitted < quota.limit) return null;
  return quotaExceeded("maxUsers", quota.plan, quota.limit, quota.used + admitted);
}

/** Refuses a single create when the tenant's plan is at its maxUsers. */
export async function assertRoomForUser(ctx: ServiceContext): Promise<void> {
  const error = userQuotaError(await userQuota(ctx));
  if (error) throw error;
}
