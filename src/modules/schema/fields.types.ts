/** The value types a custom field can have (issue 4 §1; API.md "Schema, search, SCIM"). */
export const FIELD_TYPES = [
  "string",
  "number",
  "integer",
  "boolean",
  "date",
  "datetime",
  "enum",
  "email",
  "url",
  "phone",
  "string[]",
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** A tenant's custom field: its values live under the user's `attributes.<name>`. */
export interface FieldDefinition {
  /** Stable id (`fld_…`): survives renames, names the field's indexes and binds `pii` ciphertexts. */
  id: string;
  name: string;
  type: FieldType;
  required: boolean;
  unique: boolean;
  pattern: string | null;
  min: number | null;
  max: number | null;
  minLength: number | null;
  maxLength: number | null;
  enum: string[] | null;
  default: unknown;
  /** Stored encrypted (docs/security.md); immutable after creation. */
  pii: boolean;
  /** Readable and writable only with its field grant (issue 5); true by default when `pii`. */
  restricted: boolean;
  searchable: boolean;
  filterable: boolean;
  sortable: boolean;
  description: string | null;
  /** The name before the last rename, still accepted on input (and in filters) until `previousNameUntil`. */
  previousName: string | null;
  previousNameUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The tenant's fields at one schema version (bumped by every change). */
export interface TenantSchema {
  version: number;
  fields: readonly FieldDefinition[];
}
