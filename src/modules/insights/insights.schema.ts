import { z } from "@hono/zod-openapi";

export const DAY_MS = 86_400_000;
/** The longest period one request may cover: enough for a year over year look, bounded so one answer stays cheap. */
export const MAX_SPAN_DAYS = 400;
export const DEFAULT_SPAN_DAYS = 30;

function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

// A day (read as its midnight UTC) or an instant: a report by days is the common case, an instant the precise one.
const Instant = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error: "A date (2026-01-01) or an RFC 3339 date-time (2026-01-01T00:00:00Z).",
  })
  // the formats' patterns take 2026-02-30: a date must also be a day of its month
  .refine((value) => value.length > 10 || isCalendarDay(value), { message: "Not a day of the calendar." })
  .transform((value) => Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value));

const PeriodShape = {
  from: Instant.optional().openapi({
    type: "string",
    description: `Start (inclusive): a date or an RFC 3339 date-time. Default: ${DEFAULT_SPAN_DAYS} days before \`to\`.`,
    example: "2026-10-01",
  }),
  to: Instant.optional().openapi({
    type: "string",
    description: "End (exclusive): a date or an RFC 3339 date-time. Default: now.",
    example: "2026-11-01",
  }),
};

interface PeriodInput {
  from?: number | undefined;
  to?: number | undefined;
}

/** `from` before `to`, at most MAX_SPAN_DAYS apart (checked once both defaults are known). */
function checkPeriod(query: PeriodInput, ctx: z.core.$RefinementCtx<PeriodInput>): void {
  const { from, to } = resolvePeriod(query, Date.now());
  if (from >= to) ctx.addIssue({ code: "custom", path: ["from"], message: "`from` must be before `to`." });
  else if (to - from > MAX_SPAN_DAYS * DAY_MS) {
    ctx.addIssue({ code: "custom", path: ["from"], message: `At most ${MAX_SPAN_DAYS} days from \`from\` to \`to\`.` });
  }
}

/** The period a query names, with its defaults: the last DEFAULT_SPAN_DAYS days up to now. */
export function resolvePeriod(query: PeriodInput, now: number): { from: number; to: number } {
  const to = query.to ?? now;
  return { from: query.from ?? to - DEFAULT_SPAN_DAYS * DAY_MS, to };
}

export const SummaryQuerySchema = z
  .strictObject({
    ...PeriodShape,
    inactiveDays: z.coerce.number().int().min(1).max(365).default(30).openapi({
      description: "A user with no login nor product activity in this many days before `to` is inactive.",
      example: 30,
    }),
  })
  .superRefine(checkPeriod);
export type SummaryQuery = z.infer<typeof SummaryQuerySchema>;

export const ActivityInsightsQuerySchema = z
  .strictObject({
    ...PeriodShape,
    period: z.enum(["week", "month"]).default("month").openapi({
      description: "The churn rate's period: ISO weeks (from Monday) or calendar months, UTC.",
    }),
  })
  .superRefine(checkPeriod);
export type ActivityInsightsQuery = z.infer<typeof ActivityInsightsQuerySchema>;

export const RetentionQuerySchema = z.strictObject(PeriodShape).superRefine(checkPeriod);
export type RetentionQuery = z.infer<typeof RetentionQuerySchema>;

const Rate = z.number().nullable().openapi({ description: "A share from 0 to 1; null when its base is 0." });
const Bucket = z.object({ bucket: z.string(), users: z.number().int() });

export const InsightsSummarySchema = z
  .object({
    from: z.string(),
    to: z.string(),
    totalUsers: z.number().int().openapi({ description: "Users signed up before `to` and not deleted." }),
    activeUsers: z.number().int().openapi({
      description: "Of totalUsers: those with a login or product activity in the 30 days up to `to`.",
    }),
    inactiveUsers: z.number().int().openapi({
      description: "Of totalUsers: those with none in the `inactiveDays` days up to `to`.",
    }),
    newUsers: z.number().int().openapi({ description: "Users created within [from, to), deleted since or not." }),
    deletedUsers: z.number().int().openapi({ description: "Users deleted within [from, to) and not restored." }),
    byStatus: z
      .object({ active: z.number().int(), disabled: z.number().int(), deleted: z.number().int() })
      .openapi({ description: "Users signed up before `to`, by their status now." }),
    inactiveDays: z.number().int(),
    inactiveFilter: z.string().openapi({
      description: "The users filter listing the inactive users (docs/insights.md: exact when `to` is now).",
      example: 'lastActiveAt lt "2026-10-30T00:00:00.000Z" or not (lastActiveAt pr)',
    }),
    inactiveUsersLink: z.string().openapi({ description: "GET this to list them." }),
  })
  .openapi("InsightsSummary");
export type InsightsSummary = z.infer<typeof InsightsSummarySchema>;

export const InsightsActivitySchema = z
  .object({
    from: z.string(),
    to: z.string(),
    signupsByDay: z
      .array(z.object({ day: z.string(), signups: z.number().int(), deletions: z.number().int() }))
      .openapi({
        description:
          "Every UTC day of the period (the days `from` to `to` touch), in order: users created that day, and " +
          "users deleted that day (and not restored).",
      }),
    signupsByWeek: z
      .array(z.object({ week: z.string().openapi({ example: "2026-W44" }), start: z.string(), signups: z.number() }))
      .openapi({ description: "The same by ISO week (the period's own days only: edge weeks may be partial)." }),
    dailyActiveUsers: z.array(z.object({ day: z.string(), activeUsers: z.number().int() })),
    dau: z.number().int().openapi({ description: "Active users on the last day of the period." }),
    wau: z.number().int().openapi({ description: "Active users in the 7 days ending with the last day." }),
    mau: z.number().int().openapi({ description: "Active users in the 30 days ending with the last day." }),
    averageDau: z.number(),
    stickiness: Rate.openapi({ description: "averageDau / mau; null when mau is 0." }),
    tenure: z.array(Bucket).openapi({
      description: "Users signed up before `to`, not deleted, by days since sign-up: <7, 7–30, 30–90, 90–365, 365+.",
    }),
    loginFrequency: z.array(Bucket).openapi({
      description: "The same users by successful logins within the period: 0, 1, 2–4, 5–9, 10+.",
    }),
    churn: z
      .object({
        period: z.enum(["week", "month"]),
        periods: z.array(
          z.object({
            start: z.string(),
            complete: z.boolean().openapi({ description: "False for a period that `to` cuts short." }),
            base: z.number().int().openapi({ description: "Users active in the period before." }),
            churned: z.number().int().openapi({ description: "Of those, the users not active in this period." }),
            rate: Rate,
          }),
        ),
      })
      .openapi({ description: "docs/insights.md: of the users active in period P−1, the share not active in P." }),
  })
  .openapi("InsightsActivity");
export type InsightsActivity = z.infer<typeof InsightsActivitySchema>;

export const InsightsRetentionSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    cohorts: z.array(
      z.object({
        week: z.string().openapi({ example: "2026-W40" }),
        start: z.string().openapi({ description: "The cohort week's Monday." }),
        size: z.number().int().openapi({ description: "Users who signed up that week within [from, to)." }),
        retention: z
          .array(z.object({ week: z.number().int(), activeUsers: z.number().int(), rate: Rate }))
          .openapi({ description: "Week offsets 0… up to the week of the period's last day." }),
      }),
    ),
  })
  .openapi("InsightsRetention");
export type InsightsRetention = z.infer<typeof InsightsRetentionSchema>;
