import type { ServiceContext } from "../../core/context";
import { churnList } from "../churn/churn.service";
import { insightsSummary } from "../insights/insights.service";
import { listSegments } from "../segments/segments.service";
import type { ReportData, ReportPeriod } from "./reports.registry";

/**
 * The report types that read the insights, segments and churn modules: what those APIs answer, as a report. They run
 * with the tenant's background context (no caller): counts and scores, never a user's personal data.
 */

const CHURN_ROWS = 100;

/** The insights summary as of the run: totals, active and inactive users, sign-ups and deletions in the period. */
export async function summaryReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const summary = await insightsSummary(ctx.db, {
    from: Date.parse(period.from),
    to: Date.parse(period.to),
    inactiveDays: 30,
  });
  const figures: [string, number][] = [
    ["users", summary.totalUsers],
    ["active (30 days)", summary.activeUsers],
    ["inactive (30 days)", summary.inactiveUsers],
    ["new in the period", summary.newUsers],
    ["deleted in the period", summary.deletedUsers],
  ];
  return {
    title: `Summary: ${period.schedule.name}`,
    summary: [`Period: ${summary.from} to ${summary.to} (UTC)`, ...figures.map(([name, n]) => `${name}: ${n}`)],
    table: { columns: ["figure", "users"], rows: figures },
    charts: [
      {
        title: "Users by status",
        kind: "bar",
        series: { name: "users", points: Object.entries(summary.byStatus).map(([x, y]) => ({ x, y })) },
      },
    ],
  };
}

/** Every segment, saved and learned, with its live count. */
export async function segmentsReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const { data, learning } = await listSegments(ctx, { counts: true });
  return {
    title: `Segments: ${period.schedule.name}`,
    summary: [`As of ${period.to} (UTC)`, `Segments: ${data.length}`, `Learned segments: ${learning.detail}`],
    table: {
      columns: ["segment", "kind", "users", "description"],
      rows: data.map((s) => [s.name, s.kind, s.count, s.description]),
    },
    charts: [
      {
        title: "Users per segment",
        kind: "bar",
        series: { name: "users", points: data.map((s) => ({ x: s.name, y: s.count ?? 0 })) },
      },
    ],
  };
}

/** The users most at risk of leaving (the churn model's latest scores), with the suggested action. */
export async function churnReport(ctx: ServiceContext, period: ReportPeriod): Promise<ReportData> {
  const { data } = await churnList(ctx, { limit: CHURN_ROWS, band: "high" });
  const suggestions = new Map<string, number>();
  for (const risk of data) suggestions.set(risk.suggestion, (suggestions.get(risk.suggestion) ?? 0) + 1);
  return {
    title: `Churn risk: ${period.schedule.name}`,
    summary: [
      `As of ${period.to} (UTC); scores from the model trained ${data[0]?.modelTrainedAt ?? "(no user at high risk)"}`,
      `Users at high risk: ${data.length}${data.length === CHURN_ROWS ? ` (the ${CHURN_ROWS} highest)` : ""}`,
    ],
    table: {
      columns: ["user", "score", "suggestion", "top factor"],
      rows: data.map((r) => [r.userId, Math.round(r.score * 1000) / 1000, r.suggestion, r.factors[0]?.feature ?? null]),
    },
    charts: [
      {
        title: "Suggested actions",
        kind: "bar",
        series: { name: "users", points: [...suggestions].map(([x, y]) => ({ x, y })) },
      },
    ],
  };
}
