import type { FieldError } from "../../core/errors";
import type { FieldDefinition } from "./fields.types";
import { checkValue, valueError } from "./fields.values";
import type { LoadedSchema, StoredField } from "./schema.repo";

/**
 * A user's `attributes` against the tenant's schema: declared fields are validated (one error per field) and
 * normalised; undeclared attributes stay free-form (stored as given, not filterable or searchable).
 */

type Attributes = Record<string, unknown>;

export function liveFields(schema: LoadedSchema): StoredField[] {
  return schema.fields.filter((field) => field.deletedAt === null);
}

/** The previous name of a renamed field while it is still accepted. */
export function acceptedPreviousName(field: FieldDefinition, now = Date.now()): string | null {
  if (field.previousName === null || field.previousNameUntil === null) return null;
  return Date.parse(field.previousNameUntil) > now ? field.previousName : null;
}

/**
 * Validates a user's whole attribute object as it will be stored (after a merge patch, or on create), returning
 * it normalised: previous names mapped to current ones, datetimes normalised, defaults applied where a
 * field is absent on create. Throws nothing; the errors come back for the caller to raise.
 */
export function checkAttributes(
  schema: LoadedSchema,
  input: Attributes,
  options: { creating: boolean; prefix?: readonly string[] },
): { attributes: Attributes; errors: FieldError[] } {
  const prefix = options.prefix ?? [];
  const attributes: Attributes = { ...input };
  const errors: FieldError[] = [];
  for (const field of schema.fields) {
    if (field.deletedAt !== null) {
      if (attributes[field.name] !== undefined && attributes[field.name] !== null) {
        errors.push(valueError(prefix, field.name, { code: "field_deleted", detail: "This field is being deleted." }));
      }
      continue;
    }
    const previous = acceptedPreviousName(field);
    if (previous !== null && previous in attributes) {
      if (field.name in attributes && attributes[previous] !== null) {
        errors.push(
          valueError(prefix, previous, {
            code: "renamed_field",
            detail: `Renamed to '${field.name}': send one of the two names, not both.`,
          }),
        );
        continue;
      }
      if (!(field.name in attributes)) attributes[field.name] = attributes[previous];
      delete attributes[previous];
    }
    let value = attributes[field.name];
    if ((value === undefined || value === null) && options.creating && field.default !== null) value = field.default;
    if (value === undefined || value === null) {
      delete attributes[field.name];
      if (field.required) errors.push(valueError(prefix, field.name, { code: "required", detail: "Required." }));
      continue;
    }
    const check = checkValue(field, value);
    if (check.ok) attributes[field.name] = check.value;
    else errors.push(valueError(prefix, field.name, check));
  }
  return { attributes, errors };
}

/**
 * A merge patch's `attributes` with renamed fields' previous names replaced by the current ones, so that a
 * client still sending the old name during the transition sets the field (rather than clashing with the value
 * the user already holds under the new name).
 */
export function withCurrentNames(schema: LoadedSchema, patch: Attributes): Attributes {
  const renamed: Attributes = { ...patch };
  for (const field of liveFields(schema)) {
    const previous = acceptedPreviousName(field);
    if (previous === null || !(previous in renamed) || field.name in renamed) continue;
    renamed[field.name] = renamed[previous];
    delete renamed[previous];
  }
  return renamed;
}

/**
 * What presents a stored row's attributes under `schema` (made once per schema, used for every row of a page):
 * while background jobs run, their effect is applied on read.
 */
export function attributePresenter(
  schema: LoadedSchema,
): (plain: Attributes, pii: Record<string, unknown>) => Attributes {
  if (schema.fields.length === 0) return (plain) => plain;
  const byId = new Map(schema.fields.map((field) => [field.id, field]));
  const jobs = schema.jobs.flatMap((job) => {
    const field = byId.get(job.fieldId);
    return field && field.deletedAt === null ? [{ job, field }] : [];
  });
  return (plain, pii) => {
    const attributes: Attributes = { ...plain };
    for (const { job, field } of jobs) {
      if (job.kind === "rename") {
        const from = String(job.params.from);
        if (attributes[field.name] === undefined && attributes[from] !== undefined)
          attributes[field.name] = attributes[from];
        delete attributes[from];
      } else if (job.kind === "backfill" && attributes[field.name] === undefined && field.default !== null) {
        attributes[field.name] = field.default;
      } else if (job.kind === "convert" && attributes[field.name] !== undefined) {
        const converted = checkValue(field, convertValue(attributes[field.name], field.type));
        if (converted.ok) attributes[field.name] = converted.value;
      }
    }
    for (const field of schema.fields) {
      if (field.deletedAt !== null) delete attributes[field.name];
      else if (field.pii && pii[field.id] !== undefined) attributes[field.name] = pii[field.id];
    }
    return attributes;
  };
}

/**
 * A value brought to `type` where a lossless reading exists ("42" → 42, 42 → "42", "true" → true, a date-time
 * → its date, a string → a one-item array); anything else is returned unchanged for the new type's check to
 * refuse (so a type change reports it as a violation).
 */
export function convertValue(value: unknown, type: FieldDefinition["type"]): unknown {
  switch (type) {
    case "number":
    case "integer":
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
      if (typeof value === "boolean") return value ? 1 : 0;
      return value;
    case "boolean":
      if (value === "true" || value === 1) return true;
      if (value === "false" || value === 0) return false;
      return value;
    case "string[]":
      return typeof value === "string" ? [value] : value;
    case "date":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? value.slice(0, 10) : value;
    case "datetime":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00.000Z` : value;
    default:
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      return value;
  }
}
