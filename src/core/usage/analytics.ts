import type { MiddlewareHandler } from "hono";
import type { AppEnv, Auth } from "../../env";
import { waitUntilOf } from "../context";
import { routeTemplate } from "../http/route-template";
import { trafficControlOff } from "../rate-limit/limiter";
import { bucketOf, emptyHistogram, mergeInto } from "./histogram";
import { noteQuotaTotals, usageMeter, wantsQuotaTotal } from "./monthly-requests";

/**
 * Usage analytics (docs/usage.md): every request a tenant credential makes is counted by hour, route template, method,
 * status class and credential, with its latency in a mergeable histogram. The counts add up in this isolate's memory
 * and go to the tenant's USAGE object in batches — USAGE_FLUSH_SECONDS after the first request of a batch, or at once
 * at FLUSH_AFTER_REQUESTS — never one call per request. An isolate that ends between two flushes loses its unsent
 * batch. The same flush carries the requests that count against requestsPerMonth (monthly-requests.ts), and its answer
 * tells the quota the month's total. Latency is the worker's time from the route's middleware to its response (workerd advances the clock on
 * I/O, so CPU-only work between two I/O calls counts as zero).
 */

export interface UsageRow {
  /** `2026-11-28T14` (UTC). */
  hour: string;
  route: string;
  method: string;
  statusClass: "2xx" | "3xx" | "4xx" | "5xx";
  /** `key_…`, `client:<id>`, or `user` for end users' tokens. */
  credential: string;
  requests: number;
  /** Of them, those that count against requestsPerMonth (they passed the credential checks and the quota). */
  quotaRequests: number;
  latencyMsSum: number;
  histogram: number[];
}

const FLUSH_AFTER_REQUESTS = 100;
const MAX_TENANTS = 10_000;

interface Batch {
  rows: Map<string, UsageRow>;
  requests: number;
  timer: boolean;
}

const batches = new Map<string, Batch>();

/** How the usage analytics name a credential: the API key's id, `client:<id>`, or `user` for end users' tokens. */
export function credentialOf(auth: Extract<Auth, { kind: "tenant" }>): string {
  if (auth.actor.type === "api_key") return auth.actor.id;
  if (auth.actor.type === "client") return `client:${auth.actor.id}`;
  return auth.actor.type;
}

function statusClassOf(status: number): UsageRow["statusClass"] {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

function batchOf(tenantId: string): Batch {
  let batch = batches.get(tenantId);
  if (!batch) {
    if (batches.size >= MAX_TENANTS) {
      for (const [id, other] of batches) {
        if (other.requests === 0 && !other.timer) {
          batches.delete(id);
          break;
        }
      }
    }
    batch = { rows: new Map(), requests: 0, timer: false };
    batches.set(tenantId, batch);
  }
  return batch;
}

async function flush(env: Env, tenantId: string, batch: Batch): Promise<void> {
  if (batch.requests === 0) return;
  const rows = [...batch.rows.values()];
  batch.rows = new Map();
  batch.requests = 0;
  try {
    const totals = await usageMeter(env, tenantId).recordUsage(rows);
    const sent: Record<string, number> = {};
    for (const row of rows) sent[row.hour.slice(0, 7)] = (sent[row.hour.slice(0, 7)] ?? 0) + row.quotaRequests;
    noteQuotaTotals(tenantId, totals, sent);
  } catch (error) {
    // counted again with the next flush
    for (const row of rows) add(batch, row);
    if (env.LOG_LEVEL !== "silent") {
      console.error(
        JSON.stringify({ level: "error", msg: "usage analytics flush failed", tenantId, error: String(error) }),
      );
    }
  }
}

function add(batch: Batch, row: UsageRow): void {
  const key = `${row.hour}|${row.route}|${row.method}|${row.statusClass}|${row.credential}`;
  const current = batch.rows.get(key);
  if (current) {
    current.requests += row.requests;
    current.quotaRequests += row.quotaRequests;
    current.latencyMsSum += row.latencyMsSum;
    mergeInto(current.histogram, row.histogram);
  } else {
    batch.rows.set(key, { ...row, histogram: [...row.histogram] });
  }
  batch.requests += row.requests;
}

/** One request into its row of the batch (made on the first request of its kind). */
function count(
  batch: Batch,
  request: Pick<UsageRow, "hour" | "route" | "method" | "statusClass" | "credential"> & {
    quota: boolean;
    latency: number;
  },
): void {
  const { quota, latency, ...row } = request;
  const key = `${row.hour}|${row.route}|${row.method}|${row.statusClass}|${row.credential}`;
  let current = batch.rows.get(key);
  if (!current) {
    current = { ...row, requests: 0, quotaRequests: 0, latencyMsSum: 0, histogram: emptyHistogram() };
    batch.rows.set(key, current);
  }
  current.requests += 1;
  if (quota) current.quotaRequests += 1;
  current.latencyMsSum += latency;
  const bucket = bucketOf(latency);
  current.histogram[bucket] = (current.histogram[bucket] ?? 0) + 1;
  batch.requests += 1;
}

function flushIntervalMs(env: Env): number {
  return Number(env.USAGE_FLUSH_SECONDS ?? 5) * 1000;
}

/** Counts one request of a tenant credential once its response is known. Runs after the credential middleware. */
export function usageAnalytics(): MiddlewareHandler<AppEnv> {
  return async function usageAnalyticsMiddleware(c, next) {
    if (trafficControlOff(c.env)) return next();
    const started = performance.now();
    await next();
    const auth = c.get("auth");
    if (auth?.kind !== "tenant") return;
    const latency = Math.max(0, performance.now() - started);
    const batch = batchOf(auth.tenant.id);
    count(batch, {
      hour: new Date().toISOString().slice(0, 13),
      // the template (`/v1/users/{id}`), never the concrete path: ids would make every user's reads a row of their own
      route: routeTemplate(c)?.split(" ")[1] ?? "unmatched",
      method: c.req.method,
      statusClass: statusClassOf(c.res.status),
      credential: credentialOf(auth),
      quota: c.get("quotaCounted") === true,
      latency,
    });
    const waitUntil = waitUntilOf(c);
    // a tenant's first counted request in this isolate goes at once: the quota learns the month's total soon
    if (batch.requests >= FLUSH_AFTER_REQUESTS || wantsQuotaTotal(auth.tenant.id)) {
      waitUntil(flush(c.env, auth.tenant.id, batch));
    } else if (!batch.timer) {
      batch.timer = true;
      waitUntil(
        new Promise((resolve) => setTimeout(resolve, flushIntervalMs(c.env))).then(() => {
          batch.timer = false;
          return flush(c.env, auth.tenant.id, batch);
        }),
      );
    }
  };
}
