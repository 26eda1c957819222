import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { waitUntilOf } from "../context";
import { PLAN_CONFIG, quotaExceeded } from "../plans";

/**
 * The `requestsPerMonth` quota. Every request made with a tenant credential (once it passed authentication, the
 * plan gate and the permission check) is counted in this isolate's memory; the counts go to the tenant's USAGE
 * Durable Object in batches — at the latest USAGE_FLUSH_SECONDS (5 s) after the first request of a batch, or at
 * once when a batch reaches FLUSH_AFTER_REQUESTS — never one call per request. The object adds them up per month
 * (exact for every batch it received) and answers the month's total, which this isolate keeps to decide: once
 * the total it knows plus its own unsent count reaches the plan's limit, the tenant's requests are refused with
 * 403 QUOTA_EXCEEDED, except the plan's own routes (so the tenant can still read its plan and ask for another).
 * Enforcement therefore lags the exact count by at most one flush window per isolate; and an isolate that ends
 * between two flushes loses its unsent count (at most one batch).
 */

const FLUSH_AFTER_REQUESTS = 100;
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
  /** Requests counted here and not sent yet. */
  unsent: number;
  /** The month's total (all isolates) as the object last answered; null until it first answered. */
  known: number | null;
  flushing: boolean;
  timer: boolean;
}

const counters = new Map<string, Counter>();

function flushIntervalMs(env: Env): number {
  return Number(env.USAGE_FLUSH_SECONDS ?? 5) * 1000;
}

/** This month's counter of the tenant; a counter of a past month keeps flushing into that month on its own. */
function counterOf(tenantId: string, month: string): Counter {
  const current = counters.get(tenantId);
  if (current?.month === month) return current;
  const counter: Counter = { month, unsent: 0, known: null, flushing: false, timer: false };
  counters.delete(tenantId);
  if (counters.size >= MAX_COUNTERS) {
    for (const [id, other] of counters) {
      if (other.unsent === 0 && !other.timer) {
        counters.delete(id);
        break;
      }
    }
  }
  counters.set(tenantId, counter);
  return counter;
}

async function flush(env: Env, tenantId: string, counter: Counter): Promise<void> {
  const requests = counter.unsent;
  if (requests === 0) return;
  counter.unsent = 0;
  counter.flushing = true;
  try {
    const total = await usageMeter(env, tenantId).record(counter.month, requests);
    // flushes may answer out of order; a month's total only grows
    counter.known = Math.max(counter.known ?? 0, total);
  } catch (error) {
    counter.unsent += requests; // sent again with the next flush
    if (env.LOG_LEVEL !== "silent") {
      console.error(JSON.stringify({ level: "error", msg: "usage flush failed", tenantId, error: String(error) }));
    }
  } finally {
    counter.flushing = false;
  }
}

function count(env: Env, tenantId: string, counter: Counter, waitUntil: (promise: Promise<unknown>) => void): void {
  counter.unsent++;
  // the first request of a tenant in this isolate is sent at once, so the month's total is known soon
  const now = counter.unsent >= FLUSH_AFTER_REQUESTS || (counter.known === null && !counter.flushing);
  if (now) {
    waitUntil(flush(env, tenantId, counter));
  } else if (!counter.timer) {
    counter.timer = true;
    const delay = new Promise((resolve) => setTimeout(resolve, flushIntervalMs(env)));
    waitUntil(
      delay.then(() => {
        counter.timer = false;
        return flush(env, tenantId, counter);
      }),
    );
  }
}

/**
 * Counts a tenant credential's request and, unless `enforce` is false (the plan routes), refuses it when the
 * tenant's plan's `requestsPerMonth` is reached. Runs after the credential middleware (defineRoute).
 */
export function monthlyRequests(options: { enforce: boolean }): MiddlewareHandler<AppEnv> {
  return async function monthlyRequestsMiddleware(c, next) {
    const auth = c.get("auth");
    if (auth?.kind !== "tenant") return next();
    const { id, plan } = auth.tenant;
    const counter = counterOf(id, monthOf());
    const limit = PLAN_CONFIG[plan].quotas.requestsPerMonth;
    if (options.enforce && limit !== null && counter.known !== null) {
      const used = counter.known + counter.unsent;
      if (used >= limit) throw quotaExceeded("requestsPerMonth", plan, limit, used);
    }
    count(c.env, id, counter, waitUntilOf(c));
    await next();
  };
}
