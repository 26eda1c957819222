import type { FieldDefinition, FieldType, TenantSchema } from "./fields.types";

/** Everything of a definition that is not a column of its own, stored as one JSON object. */
type Rules = Omit<
  FieldDefinition,
  "id" | "name" | "type" | "previousName" | "previousNameUntil" | "createdAt" | "updatedAt"
>;

interface FieldRow {
  id: string;
  name: string;
  type: string;
  rules: string;
  previous_name: string | null;
  previous_name_until: string | null;
  deleted_at: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

/** A stored definition with its bookkeeping (the API shows `StoredField` minus `deletedAt`). */
export interface StoredField extends FieldDefinition {
  deletedAt: string | null;
  version: number;
}

export interface SchemaJob {
  id: string;
  fieldId: string;
  kind: "purge" | "rename" | "convert" | "backfill" | "reindex";
  params: Record<string, unknown>;
  afterRowid: number;
  createdAt: string;
}

export interface LoadedSchema extends TenantSchema {
  fields: readonly StoredField[];
  jobs: readonly SchemaJob[];
}

function toField(row: FieldRow): StoredField {
  const rules = JSON.parse(row.rules) as Rules;
  return {
    id: row.id,
    name: row.name,
    type: row.type as FieldType,
    ...rules,
    previousName: row.previous_name,
    previousNameUntil: row.previous_name_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
    version: row.version,
  };
}

function rulesOf(field: FieldDefinition): string {
  const { id, name, type, previousName, previousNameUntil, createdAt, updatedAt, ...rules } = field as StoredField;
  const { deletedAt, version, ...kept } = rules as Rules & { deletedAt?: unknown; version?: unknown };
  return JSON.stringify(kept);
}

interface JobRow {
  id: string;
  field_id: string;
  kind: SchemaJob["kind"];
  params: string;
  after_rowid: number;
  created_at: string;
}

/** The queries that load the schema: version, every definition (deleted ones still being purged), open jobs. */
export function schemaQueries(db: D1Database): D1PreparedStatement[] {
  return [
    db.prepare("SELECT version FROM schema_state"),
    db.prepare("SELECT * FROM custom_fields ORDER BY created_at, id"),
    db.prepare(
      "SELECT id, field_id, kind, params, after_rowid, created_at FROM schema_jobs WHERE finished_at IS NULL ORDER BY created_at, id",
    ),
  ];
}

/** The schema from the results of `schemaQueries` (run alone or at the end of a caller's batch). */
export function schemaFromResults(results: readonly D1Result<unknown>[]): LoadedSchema {
  const [state, fields, jobs] = results;
  return {
    version: ((state?.results ?? []) as { version: number }[])[0]?.version ?? 0,
    fields: ((fields?.results ?? []) as FieldRow[]).map(toField),
    jobs: ((jobs?.results ?? []) as JobRow[]).map((row) => ({
      id: row.id,
      fieldId: row.field_id,
      kind: row.kind,
      params: JSON.parse(row.params) as Record<string, unknown>,
      afterRowid: row.after_rowid,
      createdAt: row.created_at,
    })),
  };
}

export async function loadSchema(db: D1Database): Promise<LoadedSchema> {
  return schemaFromResults(await db.batch(schemaQueries(db)));
}

/**
 * Moves the schema from `expected` to the next version, failing the batch (via the CHECK of `_batch_assertions`)
 * when another change got there first: definitions change one version at a time.
 */
export function bumpVersion(db: D1Database, expected: number): D1PreparedStatement[] {
  return [
    db.prepare("UPDATE schema_state SET version = version + 1 WHERE version = ?").bind(expected),
    db.prepare("INSERT INTO _batch_assertions (ok) SELECT changes() > 0"),
  ];
}

/** Fails the batch unless the schema is still at `version` (a user write validated against that version). */
export function schemaGuardStatements(db: D1Database, version: number): D1PreparedStatement[] {
  return [
    db.prepare("INSERT INTO _schema_guard (schema_unchanged) SELECT version = ? FROM schema_state").bind(version),
    db.prepare("DELETE FROM _schema_guard"),
  ];
}

/** Whether a batch failed on its schema guard. */
export function isSchemaGuardFailure(error: unknown): boolean {
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  return message.includes("schema_unchanged");
}

export function insertField(db: D1Database, field: StoredField): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO custom_fields (id, name, type, rules, previous_name, previous_name_until, deleted_at, created_at,
        updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      field.id,
      field.name,
      field.type,
      rulesOf(field),
      field.previousName,
      field.previousNameUntil,
      field.deletedAt,
      field.createdAt,
      field.updatedAt,
      field.version,
    );
}

export function updateField(db: D1Database, field: StoredField, previousVersion: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE custom_fields SET name = ?, type = ?, rules = ?, previous_name = ?, previous_name_until = ?,
        deleted_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?`,
    )
    .bind(
      field.name,
      field.type,
      rulesOf(field),
      field.previousName,
      field.previousNameUntil,
      field.deletedAt,
      field.updatedAt,
      field.version,
      field.id,
      previousVersion,
    );
}

export function deleteFieldRow(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM custom_fields WHERE id = ?").bind(id);
}

export function insertJob(db: D1Database, job: SchemaJob): D1PreparedStatement {
  return db
    .prepare("INSERT INTO schema_jobs (id, field_id, kind, params, after_rowid, created_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(job.id, job.fieldId, job.kind, JSON.stringify(job.params), job.afterRowid, job.createdAt);
}

export function advanceJob(db: D1Database, id: string, afterRowid: number, finishedAt: string | null) {
  return db
    .prepare("UPDATE schema_jobs SET after_rowid = ?, finished_at = ? WHERE id = ? AND finished_at IS NULL")
    .bind(afterRowid, finishedAt, id);
}
