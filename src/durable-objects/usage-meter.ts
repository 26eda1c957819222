import { DurableObject } from "cloudflare:workers";
import type { UsageRow } from "../core/usage/analytics";
import {
  type RouteCalls,
  type RouteCallsQuery,
  recordUsageRows,
  routeCalls,
  USAGE_SCHEMA,
  type UsageQuery,
  type UsageReport,
  usageReport,
} from "./usage-report";

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * One object per tenant (named by the tenant id; SQLite-backed). It holds the tenant's request count per calendar
 * month (UTC), which the `requestsPerMonth` quota reads, and its usage analytics per hour (usage-report.ts): isolates
 * count requests in memory and add them here in batches (src/core/usage/), never one call per request. The counts
 * here are exact for every batch received.
 */
export class UsageMeter extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // synchronous on SQLite-backed objects, so it is done before any call is delivered
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS monthly_requests (month TEXT PRIMARY KEY, requests INTEGER NOT NULL)",
    );
    ctx.storage.sql.exec(USAGE_SCHEMA);
  }

  /** Adds an isolate's batch of usage analytics rows (src/core/usage/analytics.ts). */
  async recordUsage(rows: UsageRow[]): Promise<void> {
    recordUsageRows(this.ctx.storage.sql, rows);
  }

  async usage(query: UsageQuery): Promise<UsageReport> {
    return usageReport(this.ctx.storage.sql, query);
  }

  async routeCalls(query: RouteCallsQuery): Promise<RouteCalls[]> {
    return routeCalls(this.ctx.storage.sql, query);
  }

  /** Adds `requests` to the month (`YYYY-MM`, UTC) and returns the month's total. */
  async record(month: string, requests: number): Promise<number> {
    if (!MONTH.test(month)) throw new RangeError(`not a month: ${month}`);
    if (!Number.isSafeInteger(requests) || requests < 0) throw new RangeError(`not a request count: ${requests}`);
    const row = this.ctx.storage.sql
      .exec<{ requests: number }>(
        `INSERT INTO monthly_requests (month, requests) VALUES (?, ?)
         ON CONFLICT (month) DO UPDATE SET requests = requests + excluded.requests
         RETURNING requests`,
        month,
        requests,
      )
      .one();
    return row.requests;
  }

  /** The month's total (`YYYY-MM`, UTC); 0 when nothing was recorded. */
  async requestsIn(month: string): Promise<number> {
    if (!MONTH.test(month)) throw new RangeError(`not a month: ${month}`);
    const rows = this.ctx.storage.sql
      .exec<{ requests: number }>("SELECT requests FROM monthly_requests WHERE month = ?", month)
      .toArray();
    return rows[0]?.requests ?? 0;
  }
}
