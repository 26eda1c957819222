import type { ServiceContext } from "../../core/context";
import { isAssertionFailure } from "../../core/db/statements";
import { ApiError, type FieldError } from "../../core/errors";
import { eventStatement } from "../../core/events/outbox";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { acceptedPreviousName } from "./attributes";
import {
  duplicateValues,
  invalidValues,
  merge,
  missingValues,
  NONE,
  type Violations,
  valuesUnder,
} from "./fields.checks";
import { dropIndex, indexStatements, needsIndex } from "./fields.indexes";
import { runSchemaJobsInBackground } from "./fields.jobs";
import { definitionErrors } from "./fields.rules";
import type { CreateFieldInput, Field, FieldPatch } from "./fields.schema";
import { searchTriggerChange, withField } from "./fields.search";
import type { FieldDefinition } from "./fields.types";
import { SchemaErrors } from "./schema.errors";
import {
  bumpVersion,
  insertField,
  insertJob,
  type LoadedSchema,
  type SchemaJob,
  type StoredField,
  updateField as updateFieldRow,
} from "./schema.repo";
import { forgetSchema, tenantSchema } from "./schema.service";

const MAX_FIELDS = 100;
/** How long a renamed field's old name stays accepted on input and in filters. */
const RENAME_TRANSITION_DAYS = 30;

interface VersionedField {
  field: Field;
  etag: string;
}

export function toField(schema: LoadedSchema, stored: StoredField): Field {
  const { deletedAt, version, ...definition } = stored;
  return {
    ...definition,
    schemaVersion: schema.version,
    pendingChanges: schema.jobs
      .filter((job) => job.fieldId === stored.id)
      .map((job) => ({ kind: job.kind, startedAt: job.createdAt })),
  };
}

function versioned(schema: LoadedSchema, stored: StoredField): VersionedField {
  return { field: toField(schema, stored), etag: etagOf(stored.version) };
}

/** A live field by its name, or by its previous name while that is accepted. */
function findField(schema: LoadedSchema, name: string): StoredField {
  const field = schema.fields.find(
    (candidate) =>
      candidate.deletedAt === null && (candidate.name === name || acceptedPreviousName(candidate) === name),
  );
  if (!field) throw new ApiError(SchemaErrors.FIELD_NOT_FOUND, { detail: `No custom field '${name}'.` });
  return field;
}

export async function listFields(ctx: ServiceContext): Promise<{ data: Field[]; nextCursor: null }> {
  const schema = await tenantSchema(ctx);
  const live = schema.fields.filter((field) => field.deletedAt === null);
  return { data: live.map((field) => toField(schema, field)), nextCursor: null };
}

export async function getField(ctx: ServiceContext, name: string): Promise<VersionedField> {
  const schema = await tenantSchema(ctx);
  return versioned(schema, findField(schema, name));
}

function assertValid(field: FieldDefinition): void {
  const errors = definitionErrors(field);
  if (errors.length > 0) throw validationError(errors, "field definition");
}

/** A name no other field holds, as its name or accepted previous name, and no field being deleted still holds. */
function assertNameFree(schema: LoadedSchema, name: string, self: string | null): void {
  const holder = schema.fields.find(
    (field) =>
      field.id !== self &&
      (field.name.toLowerCase() === name.toLowerCase() || field.previousName?.toLowerCase() === name.toLowerCase()),
  );
  if (holder) {
    const why = holder.deletedAt !== null ? " (its values are still being removed)" : "";
    throw new ApiError(SchemaErrors.FIELD_NAME_TAKEN, { detail: `A field is called '${name}'${why}.` });
  }
}

function refuse(violations: Violations, what: string): ApiError {
  return new ApiError(SchemaErrors.FIELD_CHANGE_REFUSED, {
    detail: `${violations.count} user(s) ${what}; fix them first (a dry run lists some).`,
    extensions: { violations: violations.count, sample: violations.sample },
  });
}

export async function createField(ctx: ServiceContext, input: CreateFieldInput): Promise<VersionedField> {
  const schema = await tenantSchema(ctx);
  const at = new Date().toISOString();
  const pii = input.pii ?? false;
  const field: StoredField = {
    id: newId("fld"),
    name: input.name,
    type: input.type,
    required: input.required ?? false,
    unique: input.unique ?? false,
    pattern: input.pattern ?? null,
    min: input.min ?? null,
    max: input.max ?? null,
    minLength: input.minLength ?? null,
    maxLength: input.maxLength ?? null,
    enum: input.enum ?? null,
    default: input.default ?? null,
    pii,
    restricted: input.restricted ?? pii,
    searchable: input.searchable ?? false,
    filterable: input.filterable ?? false,
    sortable: input.sortable ?? false,
    description: input.description ?? null,
    previousName: null,
    previousNameUntil: null,
    createdAt: at,
    updatedAt: at,
    deletedAt: null,
    version: 1,
  };
  assertValid(field);
  assertNameFree(schema, field.name, null);
  if (schema.fields.filter((f) => f.deletedAt === null).length >= MAX_FIELDS) {
    throw new ApiError(SchemaErrors.FIELD_LIMIT_REACHED, { detail: `A tenant has at most ${MAX_FIELDS} fields.` });
  }
  // undeclared attributes are free-form: values already stored under this name become the field's values
  const present = await valuesUnder(ctx.db, field.name);
  if (pii && present.count > 0) throw refuse(present, `hold a plaintext value under '${field.name}'`);
  const violations = merge(
    await invalidValues(ctx, { ...field, pii: false }, field.name),
    field.required && field.default === null ? await missingValues(ctx.db, field) : NONE,
    field.unique ? await duplicateValues(ctx.db, field) : NONE,
  );
  if (violations.count > 0) throw refuse(violations, "would not fit this field");
  const jobs = field.default !== null ? [newJob(field, "backfill", {}, at)] : [];
  // free-form values already under this name are searchable from now on: index them
  if (field.searchable && present.count > 0) jobs.push(newJob(field, "reindex", {}, at));
  await commitChange(ctx, schema, "custom_field.created", null, field, [
    insertField(ctx.db, field),
    ...(needsIndex(field) ? indexStatements(ctx.db, field) : []),
    ...searchTriggerChange(ctx.db, schema, withField(schema, field)),
    ...jobs.map((job) => insertJob(ctx.db, job)),
  ]);
  return getField(ctx, field.name);
}

function newJob(field: FieldDefinition, kind: SchemaJob["kind"], params: Record<string, unknown>, at: string) {
  return { id: newId("job"), fieldId: field.id, kind, params, afterRowid: 0, createdAt: at } satisfies SchemaJob;
}

/** Applies a patch to a definition: present members set, null clears (name, type and booleans cannot be null). */
function patched(current: StoredField, patch: FieldPatch): StoredField {
  const next = { ...current } as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) next[key] = value;
  return next as unknown as StoredField;
}

interface PlannedChange {
  next: StoredField;
  violations: Violations;
  jobs: SchemaJob[];
}

async function planFieldChange(
  ctx: ServiceContext,
  schema: LoadedSchema,
  current: StoredField,
  patch: FieldPatch,
  at: string,
): Promise<PlannedChange> {
  const errors: FieldError[] = [];
  if (patch.pii !== undefined && patch.pii !== current.pii) {
    errors.push({ field: "pii", code: "immutable", detail: "pii is fixed at creation: create a new field instead." });
  }
  if (current.pii && patch.searchable !== undefined && patch.searchable !== current.searchable) {
    errors.push({
      field: "searchable",
      code: "immutable",
      detail: "A pii field's search tokens are made when values are sealed: searchable is fixed at creation.",
    });
  }
  if (errors.length > 0) throw validationError(errors, "field definition");
  const next = patched(current, patch);
  assertValid(next);
  if (schema.jobs.some((job) => job.fieldId === current.id)) {
    const typeOrName = next.type !== current.type || next.name !== current.name;
    if (typeOrName) {
      throw new ApiError(SchemaErrors.FIELD_CHANGE_IN_PROGRESS, {
        detail: "The field's last rename, type change or default is still being applied to users; try again soon.",
        headers: { "Retry-After": "30" },
      });
    }
  }
  const jobs: SchemaJob[] = [];
  const checks: Violations[] = [];
  if (next.name !== current.name) {
    assertNameFree(schema, next.name, current.id);
    if (current.pii === false) {
      const present = await valuesUnder(ctx.db, next.name);
      if (present.count > 0) checks.push({ ...present, sample: present.sample });
      jobs.push(newJob(next, "rename", { from: current.name, to: next.name }, at));
    }
    next.previousName = current.name;
    next.previousNameUntil = new Date(Date.parse(at) + RENAME_TRANSITION_DAYS * 86_400_000).toISOString();
  }
  if (next.type !== current.type) {
    if (current.pii) {
      throw validationError([{ field: "type", code: "immutable", detail: "A pii field's type cannot change." }]);
    }
    jobs.push(newJob(next, "convert", { from: current.type }, at));
  }
  if (valueRulesChanged(current, next)) checks.push(await invalidValues(ctx, next, current.name));
  if (next.required && next.default === null && !(current.required && current.default === null)) {
    checks.push(await missingValues(ctx.db, { ...next, name: current.name }));
  }
  if (next.unique && !current.unique) checks.push(await duplicateValues(ctx.db, { ...next, name: current.name }));
  if (next.default !== null && JSON.stringify(next.default) !== JSON.stringify(current.default)) {
    jobs.push(newJob(next, "backfill", {}, at));
  }
  if (next.searchable !== current.searchable) jobs.push(newJob(next, "reindex", {}, at));
  next.updatedAt = at;
  next.version = current.version + 1;
  return { next, violations: merge(...checks), jobs };
}

/** Whether existing values must be checked again: the type or a rule that constrains values changed. */
function valueRulesChanged(current: FieldDefinition, next: FieldDefinition): boolean {
  const keys = ["type", "pattern", "min", "max", "minLength", "maxLength", "enum"] as const;
  return keys.some((key) => JSON.stringify(current[key]) !== JSON.stringify(next[key]));
}

export async function updateField(
  ctx: ServiceContext,
  name: string,
  patch: FieldPatch,
  options: { ifMatch?: string | undefined; dryRun: boolean },
) {
  const schema = await tenantSchema(ctx);
  const current = findField(schema, name);
  assertIfMatch(options.ifMatch, etagOf(current.version));
  const at = new Date().toISOString();
  const { next, violations, jobs } = await planFieldChange(ctx, schema, current, patch, at);
  if (options.dryRun) {
    return {
      dryRun: true as const,
      allowed: violations.count === 0,
      violations: violations.count,
      sample: violations.sample,
      field: toField(schema, next),
    };
  }
  if (violations.count > 0) throw refuse(violations, "would not fit the changed field");
  // a patch that changes nothing writes nothing (no version, audit or event)
  if (JSON.stringify(definitionView(next)) === JSON.stringify(definitionView(current))) return getField(ctx, name);
  const indexChanged =
    next.name !== current.name ||
    next.type !== current.type ||
    needsIndex(next) !== needsIndex(current) ||
    next.filterable !== current.filterable ||
    next.sortable !== current.sortable ||
    next.unique !== current.unique;
  await commitChange(ctx, schema, "custom_field.updated", current, next, [
    updateFieldRow(ctx.db, next, current.version),
    ...(indexChanged ? indexStatements(ctx.db, next) : []),
    ...searchTriggerChange(ctx.db, schema, withField(schema, next)),
    ...jobs.map((job) => insertJob(ctx.db, job)),
  ]);
  return getField(ctx, next.name);
}

export async function deleteField(ctx: ServiceContext, name: string, ifMatch: string | undefined): Promise<void> {
  const schema = await tenantSchema(ctx);
  const current = findField(schema, name);
  assertIfMatch(ifMatch, etagOf(current.version));
  const at = new Date().toISOString();
  const deleted: StoredField = { ...current, deletedAt: at, updatedAt: at, version: current.version + 1 };
  await commitChange(ctx, schema, "custom_field.deleted", current, null, [
    updateFieldRow(ctx.db, deleted, current.version),
    ...dropIndex(ctx.db, current),
    ...searchTriggerChange(ctx.db, schema, withField(schema, deleted)),
    insertJob(ctx.db, newJob(current, "purge", {}, at)),
  ]);
}

/**
 * One batch: the change, the schema version bump (which fails the batch if another change got in first), the
 * audit event and the outbox event. Background work it queued starts at once, after the response.
 */
async function commitChange(
  ctx: ServiceContext,
  schema: LoadedSchema,
  action: "custom_field.created" | "custom_field.updated" | "custom_field.deleted",
  before: StoredField | null,
  after: StoredField | null,
  statements: D1PreparedStatement[],
): Promise<void> {
  const at = (after ?? before)?.updatedAt ?? new Date().toISOString();
  const id = (after ?? before)?.id ?? null;
  const changes = diffChanges(definitionView(before), definitionView(after));
  const schemaVersion = schema.version + 1;
  try {
    await ctx.db.batch([
      ...bumpVersion(ctx.db, schema.version),
      ...statements,
      await auditStatement(ctx, { action, resource: { type: "custom_field", id }, changes }, { at }),
      await eventStatement(
        ctx,
        {
          type: action.replace("custom_field.", "schema.field_"),
          subjectId: id,
          data: { fieldId: id, name: (after ?? before)?.name, schemaVersion },
        },
        at,
      ),
      ctx.db.prepare("DELETE FROM _batch_assertions"),
    ]);
  } catch (error) {
    if (isAssertionFailure(error)) {
      throw new ApiError(SchemaErrors.SCHEMA_CHANGED, {
        detail: "Another schema change landed first; nothing was changed. Read the field again and retry.",
        cause: error,
      });
    }
    if (
      /UNIQUE constraint failed: index/.test(String(error instanceof Error ? `${error.message} ${error.cause}` : ""))
    ) {
      throw new ApiError(SchemaErrors.FIELD_CHANGE_REFUSED, {
        detail: "Users now share a value of this field; check again with a dry run.",
        cause: error,
      });
    }
    throw error;
  }
  forgetSchema(ctx);
  runSchemaJobsInBackground(ctx);
}

function definitionView(field: StoredField | null): Record<string, unknown> | null {
  if (!field) return null;
  const { id, createdAt, updatedAt, version, deletedAt, previousNameUntil, ...view } = field;
  return view;
}
