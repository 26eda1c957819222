import { validationError } from "../../core/http/validation";
import { usageMeter } from "../../core/usage/monthly-requests";
import { RETENTION_DAYS } from "../../durable-objects/usage-report";
import { DEPRECATIONS } from "../versions/versions.registry";
import type { DeprecatedCallsQuery, UsageQuery } from "./usage.schema";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The range asked for, `to` defaulting to now and `from` to `span` before it; it must lie within what is kept. */
function rangeOf(query: { from?: string | undefined; to?: string | undefined }, span: number) {
  const to = query.to ? Date.parse(query.to) : Date.now();
  const from = query.from ? Date.parse(query.from) : to - span;
  if (from >= to) {
    throw validationError([{ field: "from", code: "invalid_range", detail: "`from` must be before `to`." }], "query");
  }
  if (to - from > RETENTION_DAYS * DAY_MS) {
    throw validationError(
      [{ field: "from", code: "range_too_long", detail: `At most ${RETENTION_DAYS} days of usage are kept.` }],
      "query",
    );
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/**
 * The tenant's usage between two times (docs/usage.md), read from its USAGE object: at most one flush window
 * (USAGE_FLUSH_SECONDS) behind per isolate. The range must lie within the 90 days kept.
 */
export async function usageOf(env: Env, tenantId: string, query: UsageQuery) {
  const range = rangeOf(query, query.granularity === "day" ? 30 * DAY_MS : DAY_MS);
  const report = await usageMeter(env, tenantId).usage({
    ...range,
    granularity: query.granularity,
    groupBy: query.groupBy,
  });
  return { ...range, granularity: query.granularity, groupBy: query.groupBy ?? null, ...report };
}

/**
 * The calls to deprecated routes (src/modules/versions/versions.registry.ts) per route and credential, from the same
 * hourly counts (docs/versioning.md); by default over the whole 90 days kept.
 */
export async function deprecatedCallsOf(env: Env, tenantId: string, query: DeprecatedCallsQuery) {
  const range = rangeOf(query, RETENTION_DAYS * DAY_MS);
  const routes = DEPRECATIONS.map((d) => {
    const [method, route] = d.route.split(" ") as [string, string];
    return { method, route, deprecation: d };
  });
  const calls = await usageMeter(env, tenantId).routeCalls({
    ...range,
    routes: routes.map(({ method, route }) => ({ method, route })),
  });
  const data = calls.flatMap((call) => {
    const deprecation = routes.find((r) => r.method === call.method && r.route === call.route)?.deprecation;
    if (!deprecation) return [];
    return [
      {
        method: call.method,
        path: call.route,
        credential: call.credential,
        requests: call.requests,
        firstSeen: `${call.firstHour}:00:00.000Z`,
        lastSeen: `${call.lastHour}:00:00.000Z`,
        deprecatedAt: deprecation.deprecatedAt,
        sunset: deprecation.sunset,
        successor: deprecation.successor,
      },
    ];
  });
  return { ...range, data };
}
