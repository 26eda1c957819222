import { validationError } from "../../core/http/validation";
import { usageMeter } from "../../core/usage/monthly-requests";
import { RETENTION_DAYS } from "../../durable-objects/usage-report";
import type { UsageQuery } from "./usage.schema";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The tenant's usage between two times (docs/usage.md), read from its USAGE object: at most one flush window
 * (USAGE_FLUSH_SECONDS) behind per isolate. The range must lie within the 90 days kept.
 */
export async function usageOf(env: Env, tenantId: string, query: UsageQuery) {
  const now = Date.now();
  const to = query.to ? Date.parse(query.to) : now;
  const from = query.from ? Date.parse(query.from) : to - (query.granularity === "day" ? 30 * DAY_MS : DAY_MS);
  if (from >= to) {
    throw validationError([{ field: "from", code: "invalid_range", detail: "`from` must be before `to`." }], "query");
  }
  if (to - from > RETENTION_DAYS * DAY_MS) {
    throw validationError(
      [{ field: "from", code: "range_too_long", detail: `At most ${RETENTION_DAYS} days of usage are kept.` }],
      "query",
    );
  }
  const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  const report = await usageMeter(env, tenantId).usage({
    ...range,
    granularity: query.granularity,
    groupBy: query.groupBy,
  });
  return { ...range, granularity: query.granularity, groupBy: query.groupBy ?? null, ...report };
}
