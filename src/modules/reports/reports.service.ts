import type { ServiceContext } from "../../core/context";
import { open, seal } from "../../core/crypto/sealed-box";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { decodeCursor, encodeCursor } from "../../core/http/pagination";
import { validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { listUsers } from "../users/users.service";
import { findEndpoint } from "../webhooks/webhooks.repo";
import { ReportErrors } from "./reports.errors";
import {
  deleteRunsOf,
  deleteScheduleRow,
  findArtefact,
  findRunRow,
  findScheduleRow,
  insertScheduleRow,
  listRunRows,
  listScheduleRows,
  type ScheduleRow,
  toRun,
  updateScheduleRow,
} from "./reports.repo";
import type { CreateScheduleInput, Schedule, SchedulePatch } from "./reports.schema";
import { cronOfFrequency, cronProblem, isTimeZone, nextRunAfter } from "./reports.timing";
import { exportContext } from "./reports.types";

const SEAL_PURPOSE = "uom/report-recipients/v1";

/** Recipients are personal data: sealed under MASTER_KEY, bound to the tenant and the schedule (never plaintext). */
function sealRecipients(ctx: ServiceContext, id: string, recipients: readonly string[]): Promise<string> {
  return seal(ctx.env.MASTER_KEY, SEAL_PURPOSE, `${ctx.scope}:${id}`, JSON.stringify(recipients));
}

export async function openRecipients(env: Env, tenantId: string, row: ScheduleRow): Promise<string[]> {
  if (!row.recipients_sealed) return [];
  return JSON.parse(await open(env.MASTER_KEY, SEAL_PURPOSE, `${tenantId}:${row.id}`, row.recipients_sealed));
}

async function toSchedule(ctx: ServiceContext, row: ScheduleRow): Promise<Schedule> {
  return {
    id: row.id,
    name: row.name,
    report: row.report as Schedule["report"],
    cron: row.cron,
    frequency: row.frequency as Schedule["frequency"],
    time: row.time,
    weekday: row.weekday,
    dayOfMonth: row.day_of_month,
    timezone: row.timezone,
    format: row.format,
    recipients: await openRecipients(ctx.env, ctx.scope, row),
    webhookId: row.webhook_id,
    filter: row.filter,
    enabled: row.enabled === 1,
    nextRunAt: row.next_run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function notFound(what: "schedule" | "run", id: string): ApiError {
  return new ApiError(CoreErrors.NOT_FOUND, { detail: `No report ${what} ${id}.` });
}

type Fields = CreateScheduleInput;

/**
 * The rules between fields, every broken one reported: a cron expression or a frequency (not both), a known time
 * zone, recipients for html and csv, a webhook endpoint of the tenant for json, a filter only for `export` and one an
 * export may use. Answers the normalized row fields.
 */
async function validated(ctx: ServiceContext, input: Fields) {
  const errors: FieldError[] = [];
  const problem = (field: string, code: string, detail: string) => errors.push({ field, code, detail });
  const timezone = input.timezone ?? "UTC";
  if (!isTimeZone(timezone)) problem("timezone", "unknown_time_zone", `'${timezone}' is not an IANA time zone.`);
  let cron: string | null = null;
  const frequency = input.frequency ?? null;
  if (input.cron && frequency) problem("cron", "cron_or_frequency", "Give `cron` or `frequency`, not both.");
  else if (input.cron) {
    const why = cronProblem(input.cron);
    if (why) problem("cron", "invalid_cron", `Not a valid cron expression: ${why}.`);
    else cron = input.cron.trim().split(/\s+/).join(" ");
  } else if (frequency) {
    cron = cronOfFrequency(frequency, input.time ?? "08:00", input.weekday ?? 1, input.dayOfMonth ?? 1);
  } else problem("cron", "required", "Give `cron` or `frequency`.");
  for (const [field, value, needs] of [
    ["time", input.time, frequency !== null],
    ["weekday", input.weekday, frequency === "weekly"],
    ["dayOfMonth", input.dayOfMonth, frequency === "monthly"],
  ] as const) {
    if (value !== null && value !== undefined && !needs) {
      problem(field, "not_applicable", `\`${field}\` does not apply to this schedule's timing.`);
    }
  }
  const recipients = [...new Set((input.recipients ?? []).map((r) => r.toLowerCase()))];
  if (input.format === "json") {
    if (recipients.length) problem("recipients", "not_applicable", "A json report goes to `webhookId`, not email.");
    if (!input.webhookId) problem("webhookId", "required", "A json report needs a webhook endpoint of the tenant.");
    else if (!(await findEndpoint(ctx.db, input.webhookId))) {
      problem("webhookId", "unknown_webhook", `No webhook endpoint ${input.webhookId}.`);
    }
  } else {
    if (!recipients.length) problem("recipients", "required", `A ${input.format} report is emailed: give recipients.`);
    if (input.webhookId) problem("webhookId", "not_applicable", "Only a json report goes to a webhook endpoint.");
  }
  if (input.filter && input.report !== "export") {
    problem("filter", "not_applicable", "Only the `export` report takes a filter.");
  } else if (input.filter) {
    try {
      await listUsers(exportContext(ctx), { limit: 1, includeDeleted: false, filter: input.filter });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const detail = (error.errors?.[0] as FieldError | undefined)?.detail ?? error.detail ?? error.title;
      problem("filter", "invalid_filter", `${detail} (an export shows no restricted field, docs/reports.md)`);
    }
  }
  if (errors.length) throw validationError(errors, "body");
  return { cron: cron as string, timezone, recipients, frequency };
}

async function rowOf(
  ctx: ServiceContext,
  id: string,
  input: Fields,
  base: Pick<ScheduleRow, "version" | "created_at">,
) {
  const { cron, timezone, recipients, frequency } = await validated(ctx, input);
  const now = new Date();
  const enabled = input.enabled ?? true;
  const row: ScheduleRow = {
    id,
    name: input.name,
    report: input.report,
    cron,
    frequency,
    time: frequency ? (input.time ?? "08:00") : null,
    weekday: frequency === "weekly" ? (input.weekday ?? 1) : null,
    day_of_month: frequency === "monthly" ? (input.dayOfMonth ?? 1) : null,
    timezone,
    format: input.format,
    recipients_sealed: recipients.length ? await sealRecipients(ctx, id, recipients) : null,
    webhook_id: input.format === "json" ? (input.webhookId ?? null) : null,
    filter: input.filter ?? null,
    enabled: enabled ? 1 : 0,
    next_run_at: enabled ? nextRunAfter(cron, timezone, now) : null,
    version: base.version,
    created_at: base.created_at,
    updated_at: now.toISOString(),
  };
  return row;
}

/** What the audit trail records of a schedule: never the recipients themselves, only how many. */
function audited(row: ScheduleRow | null, recipients: number) {
  if (!row) return null;
  const { name, report, cron, timezone, format, webhook_id, filter, enabled } = row;
  return { name, report, cron, timezone, format, webhookId: webhook_id, filter, enabled: enabled === 1, recipients };
}

export async function createSchedule(ctx: ServiceContext, input: CreateScheduleInput): Promise<Schedule> {
  const id = newId("rps");
  const row = await rowOf(ctx, id, input, { version: 1, created_at: new Date().toISOString() });
  const recipients = input.recipients?.length ?? 0;
  await ctx.db.batch([
    insertScheduleRow(ctx.db, row),
    await auditStatement(
      ctx,
      {
        action: "report_schedule.created",
        resource: { type: "report_schedule", id },
        changes: diffChanges(null, audited(row, recipients)),
      },
      { at: row.updated_at },
    ),
  ]);
  return toSchedule(ctx, row);
}

export async function getSchedule(ctx: ServiceContext, id: string): Promise<Schedule> {
  const row = await findScheduleRow(ctx.db, id);
  if (!row) throw notFound("schedule", id);
  return toSchedule(ctx, row);
}

export async function listSchedules(ctx: ServiceContext, query: { limit: number; cursor?: string | undefined }) {
  const after = query.cursor ? decodeCursor("report-schedules", query.cursor, ["string"])[0] : null;
  const rows = await listScheduleRows(ctx.db, after, query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    data: await Promise.all(page.map((row) => toSchedule(ctx, row))),
    nextCursor: rows.length > query.limit && page.length ? encodeCursor("report-schedules", [page.at(-1)?.id]) : null,
  };
}

export async function updateSchedule(ctx: ServiceContext, id: string, patch: SchedulePatch): Promise<Schedule> {
  const before = await findScheduleRow(ctx.db, id);
  if (!before) throw notFound("schedule", id);
  const current = await toSchedule(ctx, before);
  // a merge patch over the schedule as written: null removes an optional member
  const merged = { ...current, ...patch } as Record<string, unknown>;
  // switching between cron and frequency: the one not given goes
  if (patch.frequency) merged.cron = patch.cron ?? null;
  if (patch.cron) merged.frequency = patch.frequency ?? null;
  const input: Fields = {
    name: merged.name as string,
    report: merged.report as Fields["report"],
    cron: merged.frequency ? (patch.cron ?? null) : ((merged.cron as string | null) ?? null),
    frequency: (merged.frequency as Fields["frequency"]) ?? null,
    time: merged.frequency ? ((merged.time as string | null) ?? null) : null,
    weekday: merged.frequency === "weekly" ? ((merged.weekday as number | null) ?? null) : null,
    dayOfMonth: merged.frequency === "monthly" ? ((merged.dayOfMonth as number | null) ?? null) : null,
    timezone: (merged.timezone as string | null) ?? "UTC",
    format: merged.format as Fields["format"],
    recipients:
      merged.format === "json" && patch.recipients === undefined ? null : (merged.recipients as string[] | null),
    webhookId: merged.format === "json" ? ((merged.webhookId as string | null) ?? null) : null,
    filter: (merged.filter as string | null) ?? null,
    enabled: merged.enabled as boolean,
  };
  const row = await rowOf(ctx, id, input, { version: before.version + 1, created_at: before.created_at });
  // an unchanged timing keeps its due time: editing the name must not skip or repeat a run
  if (row.enabled && before.enabled === 1 && row.cron === before.cron && row.timezone === before.timezone) {
    row.next_run_at = before.next_run_at;
  }
  const [result] = await ctx.db.batch([
    updateScheduleRow(ctx.db, row, before.version),
    await auditStatement(
      ctx,
      {
        action: "report_schedule.updated",
        resource: { type: "report_schedule", id },
        changes: diffChanges(audited(before, current.recipients.length), audited(row, (input.recipients ?? []).length)),
      },
      { at: row.updated_at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!result?.meta.changes) throw new ApiError(CoreErrors.CONFLICT, { detail: "The schedule changed meanwhile." });
  return toSchedule(ctx, row);
}

export async function deleteSchedule(ctx: ServiceContext, id: string): Promise<void> {
  const before = await findScheduleRow(ctx.db, id);
  if (!before) throw notFound("schedule", id);
  await ctx.db.batch([
    deleteScheduleRow(ctx.db, id, before.version),
    deleteRunsOf(ctx.db, id),
    await auditStatement(
      ctx,
      {
        action: "report_schedule.deleted",
        resource: { type: "report_schedule", id },
        changes: diffChanges(audited(before, 0), null),
      },
      // the runs' DELETE sits between: the audit row follows the schedule's, whose changes() it cannot see
      {},
    ),
  ]);
}

export async function getRun(ctx: ServiceContext, id: string) {
  const row = await findRunRow(ctx.db, id);
  if (!row) throw notFound("run", id);
  return toRun(row);
}

export async function listRuns(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string | undefined; scheduleId?: string | undefined; status?: string | undefined },
) {
  const kind = `report-runs:${query.scheduleId ?? ""}:${query.status ?? ""}`;
  const position = query.cursor ? decodeCursor(kind, query.cursor, ["string", "string"]) : null;
  const after = position ? { scheduledFor: position[0], id: position[1] } : null;
  const rows = await listRunRows(ctx.db, { ...query, limit: query.limit + 1 }, after);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    data: page.map(toRun),
    nextCursor: rows.length > query.limit && last ? encodeCursor(kind, [last.scheduled_for, last.id]) : null,
  };
}

export async function runArtefact(ctx: ServiceContext, id: string) {
  const row = await findArtefact(ctx.db, id);
  if (!row) throw notFound("run", id);
  if (row.artefact === null || row.content_type === null) {
    throw new ApiError(ReportErrors.REPORT_NOT_GENERATED, { detail: `Run ${id} has generated nothing yet.` });
  }
  return { contentType: row.content_type, body: row.artefact };
}
