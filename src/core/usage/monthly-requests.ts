import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { PLAN_CONFIG, quotaExceeded } from "../plans";
import { trafficControlOff } from "../rate-limit/limiter";

/**
 * The `requestsPerMonth` quota. Every request made with a tenant credential that passes authentication, the plan
 * gate and the permission check counts. It is marked here (`quotaCounted`) and counted by the usage analytics
 * (analytics.ts), whose batches carry it to the tenant's USAGE object: the quota reads its total from the analytics,
 * never one call per request. This isolate keeps the month's total the object last answered plus its own unsent
 * count; once that reaches the plan's limit, the tenant's requests are refused with 403 QUOTA_EXCEEDED, except the
 * plan's own routes (so the tenant can still read its plan and ask for another). Enforcement therefore lags the
 * exact count by at most one flush window (USAGE_FLUSH_SECONDS) per isolate; an isolate that ends between two
 * flushes loses its unsent count (at most one batch).
 */

/** Tenants whose counters an isolate keeps at most; idle ones (nothing unsent) make room first. */
const MAX_COUNTERS = 10_000;

/** The calendar month (UTC) a time falls in, as the meter keys it: `2026-11`. */
export function monthOf(at: number | Date = Date.now()): string {
  return new Date(at).toISOString().slice(0, 7);
}

export function usageMeter(env: Env, tenantId: string) {
  return env.USAGE.get(env.USAGE.idFromName(tenantId));
}

/**
 * The requests each tenant made this month (UTC), as its USAGE object counts them: exact for everything the
 * isolates have sent, so at most one flush window behind. For the plan page and the sub-account rollups.
 */
export async function requestsThisMonth(env: Env, tenantIds: readonly string[]): Promise<Map<string, number>> {
  const month = monthOf();
  const ids = [...new Set(tenantIds)];
  const totals = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    const counts = await Promise.all(chunk.map((id) => usageMeter(env, id).requestsIn(month)));
    chunk.forEach((id, j) => {
      totals.set(id, counts[j] ?? 0);
    });
  }
  return totals;
}

interface Counter {
  month: string;
  /** Requests counted here whose batch has not been recorded yet. */
  unsent: number;
  /** The month's total (all isolates) as the object last answered; null until it first answered. */
  known: number | null;
  /** A flush was asked for to learn `known`. */
  asked: boolean;
}

const counters = new Map<string, Counter>();

/** This month's counter of the tenant. */
function counterOf(tenantId: string, month: string): Counter {
  const current = counters.get(tenantId);
  if (current?.month === month) return current;
  const counter: Counter = { month, unsent: 0, known: null, asked: false };
  counters.delete(tenantId);
  if (counters.size >= MAX_COUNTERS) counters.delete(counters.keys().next().value as string);
  counters.set(tenantId, counter);
  return counter;
}

/** Whether the analytics should flush at once, so this isolate learns the tenant's month total (asked once). */
export function wantsQuotaTotal(tenantId: string): boolean {
  const counter = counters.get(tenantId);
  if (!counter || counter.known !== null || counter.asked) return false;
  counter.asked = true;
  return true;
}

/** A recorded batch: the months' totals the USAGE object answered, and how many of its requests each had. */
export function noteQuotaTotals(tenantId: string, totals: Record<string, number>, sent: Record<string, number>): void {
  const counter = counters.get(tenantId);
  const total = counter ? totals[counter.month] : undefined;
  if (!counter || total === undefined) return;
  // flushes may answer out of order; a month's total only grows
  counter.known = Math.max(counter.known ?? 0, total);
  counter.unsent = Math.max(0, counter.unsent - (sent[counter.month] ?? 0));
}

/**
 * Refuses a tenant credential's request when its plan's `requestsPerMonth` is reached (unless `enforce` is false:
 * the plan routes), else marks it counted. Runs after the credential middleware (defineRoute).
 */
export function monthlyRequests(options: { enforce: boolean }): MiddlewareHandler<AppEnv> {
  return async function monthlyRequestsMiddleware(c, next) {
    const auth = c.get("auth");
    if (auth?.kind !== "tenant" || trafficControlOff(c.env)) return next();
    const { id, plan } = auth.tenant;
    const counter = counterOf(id, monthOf());
    const limit = PLAN_CONFIG[plan].quotas.requestsPerMonth;
    if (options.enforce && limit !== null && counter.known !== null) {
      const used = counter.known + counter.unsent;
      if (used >= limit) throw quotaExceeded("requestsPerMonth", plan, limit, used);
    }
    counter.unsent++;
    c.set("quotaCounted", true);
    await next();
  };
}
