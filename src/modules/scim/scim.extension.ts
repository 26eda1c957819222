import type { Json } from "../../core/http/merge-patch";
import { filterAttribute } from "../schema/fields.indexes";
import type { FieldDefinition, FieldType, TenantSchema } from "../schema/fields.types";
import type { FilterCatalogue } from "../search/filter.compiler";
import { ScimErrors, scimError } from "./scim.errors";
import { URN } from "./scim.urns";

/**
 * The tenant's custom fields as the SCIM extension schema `urn:ietf:params:scim:schemas:extension:uom:2.0:User`
 * (RFC 7643 §3.3): one attribute per field, its value the user's `attributes.<name>`. Pure functions of a
 * `TenantSchema`, so they are tested with schemas built in the test.
 * Restricted fields (readable only with a field grant) and `pii` ones are left out: a provisioning key has no
 * field grants, and what it cannot read it must not be told exists.
 */

type ScimType = "string" | "boolean" | "decimal" | "integer" | "dateTime";

const SCIM_TYPES: Record<FieldType, ScimType> = {
  string: "string",
  email: "string",
  url: "string",
  phone: "string",
  enum: "string",
  date: "string",
  datetime: "dateTime",
  number: "decimal",
  integer: "integer",
  boolean: "boolean",
  "string[]": "string",
};

/** The fields SCIM shows and writes. */
export function scimFields(schema: TenantSchema): FieldDefinition[] {
  return schema.fields.filter((field) => !field.restricted && !field.pii);
}

/** The extension's entry of /scim/v2/Schemas (RFC 7643 §7). */
export function extensionSchemaDocument(schema: TenantSchema, base: string): Record<string, unknown> {
  return {
    schemas: [URN.schema],
    id: URN.extension,
    name: "UomUser",
    description: "The tenant's custom fields (the user's attributes in /v1/users).",
    attributes: scimFields(schema).map((field) => ({
      name: field.name,
      type: SCIM_TYPES[field.type],
      multiValued: field.type === "string[]",
      description: field.description ?? `Custom field ${field.name} (${field.type}).`,
      required: field.required,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: field.unique ? "server" : "none",
      ...(field.enum ? { canonicalValues: field.enum } : {}),
    })),
    meta: { resourceType: "Schema", location: `${base}/Schemas/${URN.extension}` },
  };
}

/** The extension object of a user (absent fields omitted, as RFC 7643 §2.5 does for unassigned values). */
export function extensionValues(schema: TenantSchema, attributes: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const field of scimFields(schema)) {
    const value = attributes[field.name];
    if (value !== undefined && value !== null) values[field.name] = value;
  }
  return values;
}

/** The field of the extension named `name` (case-insensitive, RFC 7643 §2.1), or null. */
export function extensionField(schema: TenantSchema, name: string): FieldDefinition | null {
  return scimFields(schema).find((field) => field.name.toLowerCase() === name.toLowerCase()) ?? null;
}

function typeMatches(field: FieldDefinition, value: unknown): boolean {
  switch (SCIM_TYPES[field.type]) {
    case "boolean":
      return typeof value === "boolean";
    case "decimal":
      return typeof value === "number";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    default:
      return typeof value === "string";
  }
}

/** Lenient mode: Entra ID sends booleans as "True"/"False". */
function lenientValue(field: FieldDefinition, value: unknown): unknown {
  if (field.type === "boolean" && typeof value === "string" && /^(true|false)$/i.test(value)) {
    return value.toLowerCase() === "true";
  }
  return value;
}

/**
 * The merge patch of `attributes` that makes the user's extension values `values` (a whole extension object, as
 * PUT gives it: a field it leaves out is removed). Only the SCIM type is checked here; the field's own rules
 * (pattern, range, enum) are the users service's, as on /v1/users.
 */
export function attributesPatch(
  schema: TenantSchema,
  values: Record<string, unknown>,
  options: { lenient: boolean },
): Record<string, Json> {
  const patch: Record<string, Json> = {};
  for (const field of scimFields(schema)) patch[field.name] = null;
  for (const [key, raw] of Object.entries(values)) {
    const field = extensionField(schema, key);
    if (!field) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${URN.extension} has no attribute "${key}".`);
    if (raw === null) continue;
    const value = options.lenient ? lenientValue(field, raw) : raw;
    const multi = field.type === "string[]";
    const ok = multi ? Array.isArray(value) && value.every((v) => typeMatches(field, v)) : typeMatches(field, value);
    if (!ok) {
      throw scimError(
        ScimErrors.SCIM_INVALID_VALUE,
        `${URN.extension}:${field.name} takes ${multi ? "a list of strings" : `a ${SCIM_TYPES[field.type]}`}.`,
      );
    }
    patch[field.name] = value as Json;
  }
  return patch;
}

/**
 * The filterable fields as the users filter's `attributes.<name>` catalogue. Field names are validated
 * (`[A-Za-z][A-Za-z0-9_]*`) when they are defined, so they can be written into the JSON path.
 */
export function extensionFilterCatalogue(schema: TenantSchema): FilterCatalogue {
  // the same expressions (and so the same indexes) as `filter=` on /v1/users
  return Object.fromEntries(
    scimFields(schema).map((field) => [`attributes.${field.name.toLowerCase()}`, filterAttribute(field)]),
  );
}
