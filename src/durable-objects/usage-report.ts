import type { UsageRow } from "../core/usage/analytics";
import { emptyHistogram, mergeInto, quantile } from "../core/usage/histogram";

/**
 * Usage analytics inside a tenant's USAGE object (SQLite): one row per hour, route, method, status class and
 * credential, added to by each isolate's flush, kept RETENTION_DAYS. Reports group and merge them.
 */

export const RETENTION_DAYS = 90;
const DAY_MS = 86_400_000;

export type Granularity = "hour" | "day";
export type GroupBy = "endpoint" | "apiKey" | "status";

export interface UsageQuery {
  /** ISO 8601 (UTC): the hours that start before `to` and end after `from` are counted whole. */
  from: string;
  to: string;
  granularity: Granularity;
  groupBy?: GroupBy | undefined;
}

export interface UsageStats {
  requests: number;
  /** Responses with a status of 400 or more; `serverErrors` are the 5xx among them. */
  errors: number;
  serverErrors: number;
  errorRate: number;
  latencyMs: { mean: number | null; p50: number | null; p95: number | null };
}

export interface UsageReport {
  totals: UsageStats;
  series: (UsageStats & { start: string; group?: string })[];
  topEndpoints: (UsageStats & { method: string; route: string })[];
}

type StoredRow = {
  hour: string;
  route: string;
  method: string;
  status_class: string;
  credential: string;
  requests: number;
  latency_ms_sum: number;
  histogram: string;
};

export const USAGE_SCHEMA = `CREATE TABLE IF NOT EXISTS usage_hours (
  hour TEXT NOT NULL, route TEXT NOT NULL, method TEXT NOT NULL, status_class TEXT NOT NULL, credential TEXT NOT NULL,
  requests INTEGER NOT NULL, latency_ms_sum REAL NOT NULL, histogram TEXT NOT NULL,
  quota_requests INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, route, method, status_class, credential))`;

/** Objects made before the quota read its count here have the table without the column. */
export function addQuotaColumn(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('usage_hours')").toArray();
  if (!columns.some((column) => column.name === "quota_requests")) {
    sql.exec("ALTER TABLE usage_hours ADD COLUMN quota_requests INTEGER NOT NULL DEFAULT 0");
  }
}

/** The requests of a month (`YYYY-MM`, UTC) that count against requestsPerMonth. */
export function quotaRequestsIn(sql: SqlStorage, month: string): number {
  return sql
    .exec<{ total: number }>(
      "SELECT coalesce(sum(quota_requests), 0) AS total FROM usage_hours WHERE hour >= ?1 AND hour < ?1 || '~'",
      month,
    )
    .one().total;
}

const hourOf = (iso: string) => iso.slice(0, 13);

/** Adds a flush's rows, then forgets hours older than the retention. Synchronous: no other call interleaves. */
export function recordUsageRows(sql: SqlStorage, rows: readonly UsageRow[], now = Date.now()): void {
  for (const row of rows) {
    const key = [row.hour, row.route, row.method, row.statusClass, row.credential];
    const current = sql
      .exec<{ histogram: string }>(
        "SELECT histogram FROM usage_hours WHERE hour = ? AND route = ? AND method = ? AND status_class = ? AND credential = ?",
        ...key,
      )
      .toArray()[0];
    const histogram = mergeInto(
      current ? (JSON.parse(current.histogram) as number[]) : emptyHistogram(),
      row.histogram,
    );
    sql.exec(
      `INSERT INTO usage_hours
         (hour, route, method, status_class, credential, requests, latency_ms_sum, histogram, quota_requests)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (hour, route, method, status_class, credential) DO UPDATE SET
         requests = requests + excluded.requests, latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum,
         histogram = excluded.histogram, quota_requests = quota_requests + excluded.quota_requests`,
      ...key,
      row.requests,
      row.latencyMsSum,
      JSON.stringify(histogram),
      row.quotaRequests,
    );
  }
  sql.exec("DELETE FROM usage_hours WHERE hour < ?", hourOf(new Date(now - RETENTION_DAYS * DAY_MS).toISOString()));
}

interface Accumulator {
  requests: number;
  errors: number;
  serverErrors: number;
  latencyMsSum: number;
  histogram: number[];
}

const fresh = (): Accumulator => ({
  requests: 0,
  errors: 0,
  serverErrors: 0,
  latencyMsSum: 0,
  histogram: emptyHistogram(),
});

function accumulate(acc: Accumulator, row: StoredRow): Accumulator {
  acc.requests += row.requests;
  if (row.status_class === "4xx" || row.status_class === "5xx") acc.errors += row.requests;
  if (row.status_class === "5xx") acc.serverErrors += row.requests;
  acc.latencyMsSum += row.latency_ms_sum;
  mergeInto(acc.histogram, JSON.parse(row.histogram) as number[]);
  return acc;
}

function statsOf(acc: Accumulator): UsageStats {
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    requests: acc.requests,
    errors: acc.errors,
    serverErrors: acc.serverErrors,
    errorRate: acc.requests === 0 ? 0 : round(acc.errors / acc.requests),
    latencyMs: {
      mean: acc.requests === 0 ? null : round(acc.latencyMsSum / acc.requests),
      p50: quantile(acc.histogram, 0.5),
      p95: quantile(acc.histogram, 0.95),
    },
  };
}

function groupOf(row: StoredRow, groupBy: GroupBy | undefined): string | undefined {
  if (groupBy === "endpoint") return `${row.method} ${row.route}`;
  if (groupBy === "apiKey") return row.credential;
  if (groupBy === "status") return row.status_class;
  return undefined;
}

export function usageReport(sql: SqlStorage, query: UsageQuery): UsageReport {
  const rows = sql
    .exec<StoredRow>(
      "SELECT * FROM usage_hours WHERE hour >= ? AND hour <= ? ORDER BY hour",
      hourOf(query.from),
      // the hours that start before `to` (exclusive): the one holding its last millisecond is the last
      hourOf(new Date(Date.parse(query.to) - 1).toISOString()),
    )
    .toArray();
  const totals = fresh();
  const series = new Map<string, { start: string; group: string | undefined; acc: Accumulator }>();
  const endpoints = new Map<string, { method: string; route: string; acc: Accumulator }>();
  for (const row of rows) {
    accumulate(totals, row);
    const start = query.granularity === "day" ? `${row.hour.slice(0, 10)}T00:00:00.000Z` : `${row.hour}:00:00.000Z`;
    const group = groupOf(row, query.groupBy);
    const key = `${start}|${group ?? ""}`;
    const entry = series.get(key) ?? { start, group, acc: fresh() };
    accumulate(entry.acc, row);
    series.set(key, entry);
    const endpointKey = `${row.method} ${row.route}`;
    const endpoint = endpoints.get(endpointKey) ?? { method: row.method, route: row.route, acc: fresh() };
    accumulate(endpoint.acc, row);
    endpoints.set(endpointKey, endpoint);
  }
  return {
    totals: statsOf(totals),
    series: [...series.values()]
      .sort((a, b) => a.start.localeCompare(b.start) || (a.group ?? "").localeCompare(b.group ?? ""))
      .map(({ start, group, acc }) => ({ start, ...(group !== undefined ? { group } : {}), ...statsOf(acc) })),
    topEndpoints: [...endpoints.values()]
      .sort((a, b) => b.acc.requests - a.acc.requests)
      .slice(0, 10)
      .map(({ method, route, acc }) => ({ method, route, ...statsOf(acc) })),
  };
}

export interface RouteCallsQuery {
  from: string;
  to: string;
  /** `{method, route}` pairs, e.g. the deprecated routes. */
  routes: readonly { method: string; route: string }[];
}

export interface RouteCalls {
  method: string;
  route: string;
  credential: string;
  requests: number;
  /** The first and last hours (`YYYY-MM-DDTHH`, UTC) with a call. */
  firstHour: string;
  lastHour: string;
}

/** The calls to the given routes per credential over whole hours, any status (GET /v1/usage/deprecations). */
export function routeCalls(sql: SqlStorage, query: RouteCallsQuery): RouteCalls[] {
  if (query.routes.length === 0) return [];
  const routes = query.routes.map(() => "(method = ? AND route = ?)").join(" OR ");
  return sql
    .exec<{ method: string; route: string; credential: string; requests: number; first: string; last: string }>(
      `SELECT method, route, credential, sum(requests) AS requests, min(hour) AS first, max(hour) AS last
       FROM usage_hours WHERE hour >= ? AND hour <= ? AND (${routes})
       GROUP BY method, route, credential ORDER BY route, method, requests DESC, credential`,
      hourOf(query.from),
      hourOf(new Date(Date.parse(query.to) - 1).toISOString()),
      ...query.routes.flatMap((r) => [r.method, r.route]),
    )
    .toArray()
    .map(({ first, last, ...row }) => ({ ...row, firstHour: first, lastHour: last }));
}
