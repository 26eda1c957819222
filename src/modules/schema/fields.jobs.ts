import type { ServiceContext } from "../../core/context";
import { loggableError } from "../../core/http/error-handler";
import { reindexTextRange } from "../search/fulltext.schema";
import type { UserStore } from "../users/users.pii";
import { convertValue } from "./attributes";
import { attributePath } from "./fields.indexes";
import { searchableNames } from "./fields.search";
import { checkValue } from "./fields.values";
import {
  advanceJob,
  deleteFieldRow,
  type LoadedSchema,
  loadSchema,
  type SchemaJob,
  type StoredField,
} from "./schema.repo";

/**
 * Schema changes that touch every user run here, in rowid order, a bounded chunk per D1 batch, the job's
 * position written in the same batch, so that a job cut short (the request's `waitUntil` ends, the isolate
 * goes) resumes where it stopped on the next cron tick. Reads apply a running job's effect meanwhile
 * (attributes.ts `attributePresenter`), so the API never shows a half-migrated schema.
 */

const CHUNK_ROWS = 1000;
/** Chunks per invocation: keeps one run inside a request's or a cron tick's time. */
const CHUNKS_PER_RUN = 200;

/** Runs open jobs after the response (the cron carries on whatever this does not finish). */
export function runSchemaJobsInBackground(ctx: ServiceContext): void {
  ctx.waitUntil(
    runSchemaJobs(ctx).catch((error: unknown) => {
      if (ctx.env.LOG_LEVEL !== "silent") {
        console.error(JSON.stringify({ level: "error", msg: "schema job failed", error: loggableError(error) }));
      }
    }),
  );
}

/** Works through the open jobs; true when all are finished. */
async function runSchemaJobs(store: UserStore, maxChunks = CHUNKS_PER_RUN): Promise<boolean> {
  let chunks = 0;
  for (;;) {
    const schema = await loadSchema(store.db);
    const job = schema.jobs[0];
    if (!job) return true;
    const field = schema.fields.find((candidate) => candidate.id === job.fieldId);
    let after = job.afterRowid;
    while (chunks < maxChunks) {
      chunks++;
      const upper = await chunkEnd(store.db, after);
      if (upper === null) {
        await finish(store.db, job, field);
        break;
      }
      await store.db.batch([
        ...(field ? await chunkStatements(store, schema, job, field, after, upper) : []),
        advanceJob(store.db, job.id, upper, null),
      ]);
      after = upper;
    }
    if (chunks >= maxChunks) return false;
  }
}

async function chunkEnd(db: D1Database, after: number): Promise<number | null> {
  const row = await db
    .prepare("SELECT max(seq) AS upper FROM (SELECT rowid AS seq FROM users WHERE rowid > ? ORDER BY rowid LIMIT ?)")
    .bind(after, CHUNK_ROWS)
    .first<{ upper: number | null }>();
  return row?.upper ?? null;
}

async function finish(db: D1Database, job: SchemaJob, field: StoredField | undefined): Promise<void> {
  const done = advanceJob(db, job.id, job.afterRowid, new Date().toISOString());
  // a deleted field's definition goes once its values have: only then is its name free again
  await db.batch(job.kind === "purge" && field ? [done, deleteFieldRow(db, field.id)] : [done]);
}

async function chunkStatements(
  store: UserStore,
  schema: LoadedSchema,
  job: SchemaJob,
  field: StoredField,
  after: number,
  upper: number,
): Promise<D1PreparedStatement[]> {
  const range = "rowid > ? AND rowid <= ?";
  const db = store.db;
  switch (job.kind) {
    case "purge": {
      if (field.pii) {
        const path = `'$.${field.id}'`;
        return [
          db
            .prepare(
              `UPDATE users SET pii_attributes = json_remove(pii_attributes, ${path}),
                 pii_index = json_remove(pii_index, ${path})
               WHERE ${range} AND json_type(pii_attributes, ${path}) IS NOT NULL`,
            )
            .bind(after, upper),
        ];
      }
      const path = attributePath(field.name);
      return [
        db
          .prepare(
            `UPDATE users SET attributes = json_remove(attributes, ${path})
             WHERE ${range} AND json_type(attributes, ${path}) IS NOT NULL`,
          )
          .bind(after, upper),
      ];
    }
    case "rename": {
      const from = attributePath(String(job.params.from));
      const to = attributePath(field.name);
      return [
        db
          .prepare(
            `UPDATE users SET attributes = json_set(json_remove(attributes, ${from}), ${to}, json(attributes -> ${from}))
             WHERE ${range} AND json_type(attributes, ${from}) IS NOT NULL AND json_type(attributes, ${to}) IS NULL`,
          )
          .bind(after, upper),
      ];
    }
    case "backfill": {
      const path = attributePath(field.name);
      return [
        db
          .prepare(
            `UPDATE users SET attributes = json_set(attributes, ${path}, json(?))
             WHERE ${range} AND json_type(attributes, ${path}) IS NULL`,
          )
          .bind(JSON.stringify(field.default), after, upper),
      ];
    }
    case "convert":
      return convertStatements(db, field, after, upper);
    case "reindex":
      // the searchable fields changed: the chunk's users_text entries are written again with the current ones
      return reindexTextRange(db, searchableNames(schema), after, upper);
  }
}

/** Reads the chunk's values, converts them as `convertValue` does (checked when the type changed), writes them. */
async function convertStatements(db: D1Database, field: StoredField, after: number, upper: number) {
  const path = attributePath(field.name);
  const { results } = await db
    .prepare(
      `SELECT id, attributes -> ${path} AS value FROM users
       WHERE rowid > ? AND rowid <= ? AND json_type(attributes, ${path}) IS NOT NULL`,
    )
    .bind(after, upper)
    .all<{ id: string; value: string }>();
  const converted = results.flatMap((row) => {
    const check = checkValue(field, convertValue(JSON.parse(row.value), field.type));
    const json = check.ok ? JSON.stringify(check.value) : null;
    return json === null || json === row.value ? [] : [[row.id, json]];
  });
  if (converted.length === 0) return [];
  return [
    db
      .prepare(
        `UPDATE users SET attributes = json_set(attributes, ${path}, json(c.value ->> 1))
         FROM json_each(?) AS c WHERE users.id = c.value ->> 0`,
      )
      .bind(JSON.stringify(converted)),
  ];
}

/** Every minute (cron): carry on a tenant's unfinished schema jobs, if it has any (one index probe if not). */
export async function continueSchemaJobs(store: UserStore): Promise<void> {
  const open = await store.db.prepare("SELECT 1 FROM schema_jobs WHERE finished_at IS NULL LIMIT 1").first();
  if (open) await runSchemaJobs(store);
}
