import { DurableObject } from "cloudflare:workers";
import type { UsageRow } from "../core/usage/analytics";
import {
  addQuotaColumn,
  quotaRequestsIn,
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
 * One object per tenant (named by the tenant id; SQLite-backed): the tenant's usage analytics per hour
 * (usage-report.ts), which the `requestsPerMonth` quota reads too. Isolates count requests in memory and add them
 * here in batches (src/core/usage/), never one call per request; the counts here are exact for every batch received.
 */
export class UsageMeter extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // synchronous on SQLite-backed objects, so it is done before any call is delivered
    ctx.storage.sql.exec(USAGE_SCHEMA);
    addQuotaColumn(ctx.storage.sql);
  }

  /**
   * Adds an isolate's batch of usage analytics rows (src/core/usage/analytics.ts); answers, for each month the rows
   * fall in, the month's requests that count against requestsPerMonth.
   */
  async recordUsage(rows: UsageRow[]): Promise<Record<string, number>> {
    recordUsageRows(this.ctx.storage.sql, rows);
    const months = new Set(rows.map((row) => row.hour.slice(0, 7)));
    return Object.fromEntries([...months].map((month) => [month, quotaRequestsIn(this.ctx.storage.sql, month)]));
  }

  async usage(query: UsageQuery): Promise<UsageReport> {
    return usageReport(this.ctx.storage.sql, query);
  }

  async routeCalls(query: RouteCallsQuery): Promise<RouteCalls[]> {
    return routeCalls(this.ctx.storage.sql, query);
  }

  /** The month's requests (`YYYY-MM`, UTC) that count against requestsPerMonth; 0 when none were recorded. */
  async requestsIn(month: string): Promise<number> {
    if (!MONTH.test(month)) throw new RangeError(`not a month: ${month}`);
    return quotaRequestsIn(this.ctx.storage.sql, month);
  }
}
