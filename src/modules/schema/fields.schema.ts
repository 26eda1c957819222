import { z } from "@hono/zod-openapi";
import { JsonValueSchema } from "../../core/http/json-value";
import { MAX_PATTERN_LENGTH } from "./fields.patterns";
import { FIELD_TYPES } from "./fields.types";
import { VALUE_CAPS } from "./fields.values";

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const FieldName = z
  .string()
  .regex(FIELD_NAME, "1–64 letters, digits or '_', starting with a letter.")
  .openapi({ example: "department" });
const Length = z.number().int().min(0).max(VALUE_CAPS.string);

/** The rules a definition may set; on create, absent means the default, and on PATCH, null clears a rule. */
const rules = {
  required: z.boolean().openapi({ description: "Every user must have a value (with `default`, filled in)." }),
  unique: z.boolean().openapi({ description: "No two users share a value (case-insensitively for text)." }),
  pattern: z
    .string()
    .min(1)
    .max(MAX_PATTERN_LENGTH)
    .nullable()
    .openapi({ description: "RE2 syntax, matched anywhere unless anchored; nested quantifiers are refused." }),
  min: z.number().nullable().openapi({ description: "number/integer: the smallest value." }),
  max: z.number().nullable().openapi({ description: "number/integer: the largest value." }),
  minLength: Length.nullable().openapi({ description: "Text: fewest characters; string[]: fewest items." }),
  maxLength: Length.nullable().openapi({ description: "Text: most characters; string[]: most items." }),
  enum: z.array(z.string().min(1).max(200)).min(1).max(200).nullable().openapi({
    description: "enum (and optionally string[]): the allowed values.",
  }),
  default: JsonValueSchema.openapi({ description: "Given to users without a value (existing users too); null: none." }),
  restricted: z.boolean().openapi({
    description:
      "Read and written only with the field grant `users.attributes.<name>:read` / `:write` (docs/field-permissions.md); " +
      "defaults to `pii`.",
  }),
  searchable: z.boolean().openapi({ description: "Found by `q=` full-text search." }),
  filterable: z.boolean().openapi({ description: "Usable in `filter=` (indexed)." }),
  sortable: z.boolean().openapi({ description: "Usable as `sort=` (indexed)." }),
  description: z.string().max(500).nullable(),
};

export const CreateFieldSchema = z
  .strictObject({
    name: FieldName,
    type: z.enum(FIELD_TYPES),
    ...Object.fromEntries(Object.entries(rules).map(([key, schema]) => [key, schema.optional()])),
    pii: z.boolean().optional().openapi({ description: "Stored encrypted; cannot change after creation." }),
  } as const)
  .openapi("CreateCustomField", {
    example: { name: "department", type: "enum", enum: ["sales", "support"], filterable: true, searchable: true },
  });
export type CreateFieldInput = {
  name: string;
  type: (typeof FIELD_TYPES)[number];
  pii?: boolean | undefined;
} & { [K in keyof typeof rules]?: z.infer<(typeof rules)[K]> | undefined };

export const FieldPatchSchema = z
  .strictObject({
    name: FieldName.optional().openapi({ description: "Rename; the old name stays accepted for 30 days." }),
    type: z.enum(FIELD_TYPES).optional().openapi({ description: "Only when every existing value converts." }),
    ...Object.fromEntries(Object.entries(rules).map(([key, schema]) => [key, schema.optional()])),
    pii: z.boolean().optional(),
  } as const)
  .openapi("CustomFieldPatch", { example: { required: true, default: "sales" } });
export type FieldPatch = Partial<CreateFieldInput>;

export const FieldNameParamSchema = z.object({
  name: z
    .string()
    .max(64)
    .openapi({ param: { name: "name", in: "path" }, example: "department" }),
});

export const DryRunQuerySchema = z.strictObject({
  dryRun: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true")
    .openapi({ description: "Check the change against existing users and report, changing nothing." }),
});

const PendingChange = z.object({
  kind: z.enum(["purge", "rename", "convert", "backfill", "reindex"]),
  startedAt: z.string(),
});

export const FieldSchema = z
  .object({
    id: z.string().openapi({ example: "fld_01JDA0Q7W3V8K2N4T5R6Y7P9AB" }),
    name: z.string(),
    type: z.enum(FIELD_TYPES),
    required: z.boolean(),
    unique: z.boolean(),
    pattern: z.string().nullable(),
    min: z.number().nullable(),
    max: z.number().nullable(),
    minLength: z.number().nullable(),
    maxLength: z.number().nullable(),
    enum: z.array(z.string()).nullable(),
    default: z.unknown(),
    pii: z.boolean(),
    restricted: z.boolean(),
    searchable: z.boolean(),
    filterable: z.boolean(),
    sortable: z.boolean(),
    description: z.string().nullable(),
    previousName: z.string().nullable().openapi({ description: "Still accepted on input until previousNameUntil." }),
    previousNameUntil: z.string().nullable(),
    schemaVersion: z.number().int(),
    pendingChanges: z.array(PendingChange).openapi({
      description: "Work on existing users still running in the background (reads already show its effect).",
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("CustomField");
export type Field = z.infer<typeof FieldSchema>;

export const FieldListSchema = z
  .object({ data: z.array(FieldSchema), nextCursor: z.string().nullable() })
  .openapi("CustomFieldList");

export const DryRunReportSchema = z
  .object({
    dryRun: z.literal(true),
    allowed: z.boolean(),
    violations: z.number().int().openapi({ description: "Users whose values would not fit." }),
    sample: z.array(z.object({ userId: z.string(), code: z.string(), detail: z.string() })),
    field: FieldSchema.openapi({ description: "The field as it would be." }),
  })
  .openapi("CustomFieldDryRun");
