import type { ServiceContext } from "../../core/context";
import { churnReport, segmentsReport, summaryReport } from "./reports.insights";
import { activeUsersReport, exportReport, newUsersReport } from "./reports.types";

/**
 * The report types. Each turns a period into what every format renders: a title, summary lines, one table and charts.
 * Another type is one entry here (its function in its own module); the schedules accept its name at once.
 */

export type Cell = string | number | null;

export interface Chart {
  title: string;
  kind: "bar" | "line";
  series: { name: string; points: { x: string; y: number }[] };
}

export interface ReportData {
  title: string;
  summary: string[];
  table: { columns: string[]; rows: Cell[][] };
  charts: Chart[];
}

/** The schedule as a report type sees it. */
export interface ReportSchedule {
  id: string;
  name: string;
  filter: string | null;
}

export interface ReportPeriod {
  /** Inclusive, ISO UTC. */
  from: string;
  /** Exclusive, ISO UTC: the run's scheduled time. */
  to: string;
  schedule: ReportSchedule;
}

/** ctx is a background context of the tenant (cron time: no caller, no role). */
export type ReportType = (ctx: ServiceContext, period: ReportPeriod) => Promise<ReportData>;

const REPORTS = {
  summary: summaryReport,
  "new-users": newUsersReport,
  "active-users": activeUsersReport,
  churn: churnReport,
  segments: segmentsReport,
  export: exportReport,
} satisfies Record<string, ReportType>;

export type ReportName = keyof typeof REPORTS;
export const REPORT_TYPES = Object.keys(REPORTS) as [ReportName, ...ReportName[]];

export function reportType(name: string): ReportType | null {
  return Object.hasOwn(REPORTS, name) ? REPORTS[name as ReportName] : null;
}
