import type { Run } from "./reports.schema";

/** A schedule row as stored (recipients sealed). */
export interface ScheduleRow {
  id: string;
  name: string;
  report: string;
  cron: string;
  frequency: string | null;
  time: string | null;
  weekday: number | null;
  day_of_month: number | null;
  timezone: string;
  format: "html" | "csv" | "json";
  recipients_sealed: string | null;
  webhook_id: string | null;
  filter: string | null;
  enabled: number;
  next_run_at: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface RunRow {
  id: string;
  schedule_id: string;
  scheduled_for: string;
  status: Run["status"];
  attempts: number;
  next_attempt_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  content_type: string | null;
  created_at: string;
}

/** Every column of a run but the artefact (which only the download reads). */
const RUN_COLUMNS =
  "id, schedule_id, scheduled_for, status, attempts, next_attempt_at, started_at, finished_at, error, content_type, created_at";

export function toRun(row: RunRow): Run {
  return {
    id: row.id,
    scheduleId: row.schedule_id,
    status: row.status,
    scheduledFor: row.scheduled_for,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    attempts: row.attempts,
    nextAttemptAt: row.status === "pending" ? row.next_attempt_at : null,
    error: row.error,
    contentType: row.content_type,
  };
}

export function findScheduleRow(db: D1Database, id: string): Promise<ScheduleRow | null> {
  return db.prepare("SELECT * FROM report_schedules WHERE id = ?").bind(id).first<ScheduleRow>();
}

/** Oldest first by id (ids sort by creation time), after `afterId`. */
export async function listScheduleRows(db: D1Database, afterId: string | null, limit: number) {
  const { results } = await db
    .prepare("SELECT * FROM report_schedules WHERE id > ?1 ORDER BY id LIMIT ?2")
    .bind(afterId ?? "", limit)
    .all<ScheduleRow>();
  return results;
}

const SCHEDULE_COLUMNS = [
  "id",
  "name",
  "report",
  "cron",
  "frequency",
  "time",
  "weekday",
  "day_of_month",
  "timezone",
  "format",
  "recipients_sealed",
  "webhook_id",
  "filter",
  "enabled",
  "next_run_at",
  "version",
  "created_at",
  "updated_at",
] as const;

export function insertScheduleRow(db: D1Database, row: ScheduleRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO report_schedules (${SCHEDULE_COLUMNS.join(", ")}) VALUES (${SCHEDULE_COLUMNS.map(() => "?").join(", ")})`,
    )
    .bind(...SCHEDULE_COLUMNS.map((column) => row[column]));
}

/** Replaces a schedule's fields if it is still at `version` (a concurrent change makes it match nothing). */
export function updateScheduleRow(db: D1Database, row: ScheduleRow, version: number): D1PreparedStatement {
  const columns = SCHEDULE_COLUMNS.filter((column) => column !== "id" && column !== "created_at");
  return db
    .prepare(
      `UPDATE report_schedules SET ${columns.map((column) => `${column} = ?`).join(", ")} WHERE id = ? AND version = ?`,
    )
    .bind(...columns.map((column) => row[column]), row.id, version);
}

export function deleteScheduleRow(db: D1Database, id: string, version: number): D1PreparedStatement {
  return db.prepare("DELETE FROM report_schedules WHERE id = ? AND version = ?").bind(id, version);
}

export function deleteRunsOf(db: D1Database, scheduleId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM report_runs WHERE schedule_id = ? AND changes() > 0").bind(scheduleId);
}

export function findRunRow(db: D1Database, id: string): Promise<RunRow | null> {
  return db.prepare(`SELECT ${RUN_COLUMNS} FROM report_runs WHERE id = ?`).bind(id).first<RunRow>();
}

export function findArtefact(db: D1Database, id: string) {
  return db
    .prepare("SELECT content_type, artefact FROM report_runs WHERE id = ?")
    .bind(id)
    .first<{ content_type: string | null; artefact: string | null }>();
}

/** Newest first by (scheduled_for, id), after the cursor's position. */
export async function listRunRows(
  db: D1Database,
  query: { scheduleId?: string | undefined; status?: string | undefined; limit: number },
  after: { scheduledFor: string; id: string } | null,
) {
  const { results } = await db
    .prepare(
      `SELECT ${RUN_COLUMNS} FROM report_runs
       WHERE (?1 IS NULL OR schedule_id = ?1) AND (?2 IS NULL OR status = ?2)
         AND (?3 IS NULL OR scheduled_for < ?3 OR (scheduled_for = ?3 AND id < ?4))
       ORDER BY scheduled_for DESC, id DESC LIMIT ?5`,
    )
    .bind(query.scheduleId ?? null, query.status ?? null, after?.scheduledFor ?? null, after?.id ?? "", query.limit)
    .all<RunRow>();
  return results;
}
