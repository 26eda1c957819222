import { Grants } from "../../core/auth/grants";
import type { ServiceContext } from "../../core/context";
import { activeUsersStatement } from "../insights/insights.repo";
import { dayFigures } from "../insights/insights.rollup";
import { fieldAccess } from "../users/users.fields-access";
import { listUsers } from "../users/users.service";
import type { Cell, ReportData, ReportPeriod } from "./reports.registry";

/** An export holds at most this many users (the artefact cap, 1 MB, is checked as well). */
export const EXPORT_MAX_USERS = 5_000;

/** Every UTC day of [from, to), as YYYY-MM-DD. */
function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  const end = Date.parse(to);
  for (let t = Date.parse(from.slice(0, 10)); t < end && days.length < 400; t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

const periodLine = ({ from, to }: ReportPeriod) => `Period: ${from} to ${to} (UTC)`;

/** Per-day counts for every day of the period (days without any as 0). */
function perDay(period: ReportPeriod, counted: { day: string; n: number }[]) {
  const byDay = new Map(counted.map((row) => [row.day, row.n]));
  return daysOf(period.from, period.to).map((day) => ({ x: day, y: byDay.get(day) ?? 0 }));
}

/** Users created in the period: the count per day (deleted ones included: they were created then). */
export async function newUsersReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const { results } = await ctx.db
    .prepare(
      `SELECT substr(created_at, 1, 10) AS day, count(*) AS n FROM users
       WHERE created_at >= ?1 AND created_at < ?2 GROUP BY day ORDER BY day`,
    )
    .bind(period.from, period.to)
    .all<{ day: string; n: number }>();
  const points = perDay(period, results);
  const total = results.reduce((sum, row) => sum + row.n, 0);
  return {
    title: `New users: ${period.schedule.name}`,
    summary: [periodLine(period), `New users: ${total}`],
    table: { columns: ["day", "new users"], rows: points.map((p) => [p.x, p.y]) },
    charts: [{ title: "New users per day", kind: "bar", series: { name: "new users", points } }],
  };
}

/**
 * Users active in the period (UTC days, as the insights count them): daily active users, from the insights' day
 * rollups, and the distinct users over it.
 */
export async function activeUsersReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const from = period.from.slice(0, 10);
  // `to` is exclusive: its day counts when the period reaches into it
  const last = new Date(Date.parse(period.to) - 1).toISOString().slice(0, 10);
  const [days, distinct] = await Promise.all([
    dayFigures(ctx.db, from, last),
    activeUsersStatement(ctx.db, from, last).first<{ users: number }>(),
  ]);
  const points = perDay(
    period,
    days.map(({ day, activeUsers }) => ({ day, n: activeUsers })),
  );
  const users = distinct?.users ?? 0;
  return {
    title: `Active users: ${period.schedule.name}`,
    summary: [periodLine(period), `Active users over the period: ${users}`],
    table: { columns: ["day", "active users"], rows: points.map((p) => [p.x, p.y]) },
    charts: [{ title: "Daily active users", kind: "line", series: { name: "active users", points } }],
  };
}

const EXPORT_COLUMNS = [
  "id",
  "username",
  "name",
  "status",
  "emailVerified",
  "roles",
  "externalId",
  "createdAt",
  "updatedAt",
  "lastLoginAt",
  "lastActiveAt",
  "loginCount",
] as const;

/**
 * The context an export reads users with: a credential holding `users:read` and no field grant. At cron time there is
 * no caller whose field permissions could apply, so an export shows only what any `users:read` holder sees: never the
 * email, the phone or a restricted custom field, and a filter on them is refused (when the schedule is written).
 */
export function exportContext(ctx: ServiceContext): ServiceContext {
  return { ...ctx, permissions: new Grants(["users:read"]) };
}

/** Users matching the schedule's filter, as GET /v1/users returns them to such a credential (oldest first). */
export async function exportReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const reader = exportContext(ctx);
  const access = await fieldAccess(reader);
  const filter = period.schedule.filter ?? undefined;
  const users: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const page = await listUsers(reader, { limit: 1000, cursor, includeDeleted: false, filter });
    users.push(...page.data.map((user) => access.present(user as never) as Record<string, unknown>));
    cursor = page.nextCursor ?? undefined;
  } while (cursor && users.length < EXPORT_MAX_USERS);
  const kept = users.slice(0, EXPORT_MAX_USERS);
  const attributes = [...new Set(kept.flatMap((user) => Object.keys((user.attributes as object | null) ?? {})))].sort();
  const columns = [...EXPORT_COLUMNS, ...attributes.map((name) => `attributes.${name}`)];
  const rows = kept.map((user) => [
    ...EXPORT_COLUMNS.map((column) => cellOf(user[column])),
    ...attributes.map((name) => cellOf((user.attributes as Record<string, unknown> | null)?.[name])),
  ]);
  return {
    title: `User export: ${period.schedule.name}`,
    summary: [
      `As of ${period.to} (UTC)${filter ? `, filter: ${filter}` : ""}`,
      `Users: ${kept.length}${users.length > EXPORT_MAX_USERS || cursor ? ` (the first ${EXPORT_MAX_USERS})` : ""}`,
    ],
    table: { columns, rows },
    charts: [],
  };
}

function cellOf(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(" ");
  return JSON.stringify(value);
}
