import { backgroundContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { newId } from "../../core/ids";
import { type Plan, planIncludes } from "../../core/plans";
import { DeliveryError } from "../notifications/providers";
import { deliver } from "./reports.delivery";
import { reportType } from "./reports.registry";
import { render } from "./reports.render";
import type { RunRow, ScheduleRow } from "./reports.repo";
import { openRecipients } from "./reports.service";
import { nextRunAfter, previousRun } from "./reports.timing";

/** An artefact above this is not kept nor sent: the run fails (docs/reports.md). */
export const MAX_ARTEFACT_BYTES = 1_000_000;
/** Attempts of a run before it is `failed`; the waits between them (the last one repeats). */
export const MAX_ATTEMPTS = 4;
const RETRY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000];
/** Runs attempted per tenant and cron minute (each generates and delivers inline, within the invocation's limits). */
const RUNS_PER_MINUTE = 5;
/** A run `running` longer than this was left by an invocation that died: it is attempted again. */
const STALE_RUN_MS = 10 * 60_000;

/**
 * The every-minute reports job of one tenant, with the cron's scheduled time as "now": a run for each schedule due
 * (next_run_at <= now; the UNIQUE (schedule_id, scheduled_for) makes it once however often this runs), then up to
 * RUNS_PER_MINUTE due attempts, each generating the report, keeping the artefact and delivering it.
 */
export async function runScheduledReports(
  env: Env,
  tenantId: string,
  plan: Plan,
  db: D1Database,
  scheduledTime: number,
): Promise<void> {
  // a tenant that left the plan keeps its schedules, which run again when it comes back
  if (!planIncludes(plan, "reports")) return;
  await createDueRuns(db, scheduledTime);
  await attemptDueRuns(env, tenantId, db, scheduledTime);
}

export async function createDueRuns(db: D1Database, scheduledTime: number): Promise<void> {
  const now = new Date(scheduledTime);
  const { results } = await db
    .prepare(
      "SELECT id, cron, timezone, next_run_at FROM report_schedules WHERE enabled = 1 AND next_run_at <= ? LIMIT 40",
    )
    .bind(now.toISOString())
    .all<Pick<ScheduleRow, "id" | "cron" | "timezone" | "next_run_at">>();
  if (!results.length) return;
  const created = new Date().toISOString();
  // a run for the due time, and the next due time after now (missed ones while cron was down are not caught up)
  await db.batch(
    results.flatMap((schedule) => [
      db
        .prepare(
          `INSERT INTO report_runs (id, schedule_id, scheduled_for, status, attempts, next_attempt_at, created_at)
           VALUES (?1, ?2, ?3, 'pending', 0, ?3, ?4) ON CONFLICT (schedule_id, scheduled_for) DO NOTHING`,
        )
        .bind(newId("rpr"), schedule.id, schedule.next_run_at, created),
      db
        .prepare("UPDATE report_schedules SET next_run_at = ?1 WHERE id = ?2 AND next_run_at = ?3")
        .bind(nextRunAfter(schedule.cron, schedule.timezone, now), schedule.id, schedule.next_run_at),
    ]),
  );
}

async function attemptDueRuns(env: Env, tenantId: string, db: D1Database, scheduledTime: number) {
  const { results } = await db
    .prepare(
      `SELECT * FROM report_runs WHERE (status = 'pending' AND next_attempt_at <= ?1)
         OR (status = 'running' AND started_at < ?2)
       ORDER BY next_attempt_at LIMIT ?3`,
    )
    .bind(new Date(scheduledTime).toISOString(), new Date(Date.now() - STALE_RUN_MS).toISOString(), RUNS_PER_MINUTE)
    .all<RunRow>();
  for (const run of results) await attemptRun(env, tenantId, db, run, scheduledTime);
}

/** One attempt of a run: claimed first (a concurrent invocation that claimed it meanwhile makes this one skip it). */
async function attemptRun(env: Env, tenantId: string, db: D1Database, run: RunRow, scheduledTime: number) {
  const claimed = await db
    .prepare(
      `UPDATE report_runs SET status = 'running', attempts = attempts + 1, started_at = ?1
       WHERE id = ?2 AND status = ?3 AND attempts = ?4 RETURNING attempts`,
    )
    .bind(new Date().toISOString(), run.id, run.status, run.attempts)
    .first<{ attempts: number }>();
  if (!claimed) return;
  try {
    const receipt = await generateAndDeliver(env, tenantId, db, run);
    await settle(db, run.id, { status: "succeeded", error: null, nextAttemptAt: null, receipt });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
    const permanent =
      (error instanceof DeliveryError && error.permanent) || error instanceof ApiError || error instanceof GiveUp;
    if (permanent || claimed.attempts >= MAX_ATTEMPTS) {
      await settle(db, run.id, { status: "failed", error: message, nextAttemptAt: null });
    } else {
      const delay = RETRY_DELAYS_MS[Math.min(claimed.attempts - 1, RETRY_DELAYS_MS.length - 1)] as number;
      const next = new Date(scheduledTime + delay).toISOString();
      await settle(db, run.id, { status: "pending", error: message, nextAttemptAt: next });
    }
  }
}

/** A failure no retry can mend (the schedule is gone, the report is over the cap). */
class GiveUp extends Error {}

async function generateAndDeliver(env: Env, tenantId: string, db: D1Database, run: RunRow): Promise<string> {
  const schedule = await db
    .prepare("SELECT * FROM report_schedules WHERE id = ?")
    .bind(run.schedule_id)
    .first<ScheduleRow>();
  if (!schedule) throw new GiveUp("the schedule was deleted");
  const generate = reportType(schedule.report);
  if (!generate) throw new GiveUp(`unknown report type ${schedule.report}`);
  const from = previousRun(schedule.cron, schedule.timezone, new Date(run.scheduled_for));
  const to = run.scheduled_for;
  const ctx = backgroundContext(env, tenantId, db, "reports");
  const data = await generate(ctx, {
    from,
    to,
    schedule: { id: schedule.id, name: schedule.name, filter: schedule.filter },
  });
  const rendered = render(schedule.format, data, {
    runId: run.id,
    scheduleId: schedule.id,
    report: schedule.report,
    from,
    to,
  });
  const bytes = new TextEncoder().encode(rendered.artefact).length;
  if (bytes > MAX_ARTEFACT_BYTES) {
    throw new GiveUp(`the report is ${bytes} bytes, over the ${MAX_ARTEFACT_BYTES}-byte cap (docs/reports.md)`);
  }
  // kept before delivery: a run whose delivery fails can still be downloaded
  await db
    .prepare("UPDATE report_runs SET content_type = ?1, artefact = ?2 WHERE id = ?3")
    .bind(rendered.contentType, rendered.artefact, run.id)
    .run();
  return deliver(
    env,
    tenantId,
    db,
    { runId: run.id, recipients: await openRecipients(env, tenantId, schedule), webhookId: schedule.webhook_id },
    rendered,
  );
}

async function settle(
  db: D1Database,
  id: string,
  outcome: { status: RunRow["status"]; error: string | null; nextAttemptAt: string | null; receipt?: string },
) {
  const finished = outcome.status === "pending" ? null : new Date().toISOString();
  await db
    .prepare(
      "UPDATE report_runs SET status = ?1, error = ?2, next_attempt_at = ?3, finished_at = ?4 WHERE id = ?5 AND status = 'running'",
    )
    .bind(outcome.status, outcome.error, outcome.nextAttemptAt, finished, id)
    .run();
}
