import { z } from "@hono/zod-openapi";
import { ASSIGNMENT_PATTERN, ASSIGNMENT_SYNTAX } from "../../core/auth/assignments";
import { JsonValueSchema } from "../../core/http/json-value";

export const USER_STATUSES = ["active", "disabled", "deleted"] as const;

const Email = z.email({ error: "Must be an email address." }).max(254);
const Username = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "Letters, digits, '.', '_' and '-', starting with a letter or digit.");
const Name = z.string().trim().min(1).max(200);
const Phone = z.string().regex(/^\+[1-9]\d{6,14}$/, "An E.164 phone number, such as +14155550123.");
/** The provisioning client's id of the user (SCIM `externalId`, RFC 7643 §3.1); unique in the tenant. */
const ExternalId = z.string().trim().min(1).max(256);
/** A role, or a role scoped to a sub-account (`manager@ten_…`, docs/sub-accounts.md). */
const RoleName = z.string().regex(ASSIGNMENT_PATTERN, ASSIGNMENT_SYNTAX);
export const PasswordSchema = z.string().min(8).max(256);
const ATTRIBUTE_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_ATTRIBUTES_BYTES = 16 * 1024;

/** Custom field values (typed validation per field comes with the schema module). */
export const Attributes = z
  .record(z.string(), JsonValueSchema)
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!ATTRIBUTE_KEY.test(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "Attribute names are 1–64 letters, digits or '_', starting with a letter.",
        });
      }
    }
    if (JSON.stringify(value).length > MAX_ATTRIBUTES_BYTES) {
      ctx.addIssue({ code: "custom", message: `Attributes may take at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON.` });
    }
  })
  .openapi({ example: { department: "sales", seats: 3 } });

const Roles = z.array(RoleName).max(50);

export const CreateUserSchema = z
  .strictObject({
    email: Email.openapi({ description: "Takes the field grant `users.email:write`.", example: "ada@example.com" }),
    username: Username.nullish().openapi({ example: "ada" }),
    name: Name.nullish().openapi({ example: "Ada Lovelace" }),
    phone: Phone.nullish().openapi({ description: "Takes `users.phone:write`.", example: "+14155550123" }),
    status: z.enum(["active", "disabled"]).default("active"),
    attributes: Attributes.default({}).openapi({
      description:
        "A `restricted` custom field takes `users.attributes.<name>:write` (a default the service fills in does not).",
    }),
    roles: Roles.default([]),
    externalId: ExternalId.nullish().openapi({
      description: "The user's id in a provisioning client (SCIM `externalId`); unique.",
      example: "00u1a2b3c4d5e6f7g8h9",
    }),
    password: PasswordSchema.optional().openapi({ description: "Write-only; stored as a peppered scrypt hash." }),
  })
  .openapi("CreateUser");
export type CreateUserInput = z.infer<typeof CreateUserSchema>;

/** The writable state of a user: what a merge patch applies to, validated again after the patch. */
export const WritableUserSchema = z.strictObject({
  email: Email,
  username: Username.nullish(),
  name: Name.nullish(),
  phone: Phone.nullish(),
  status: z.enum(["active", "disabled"], { error: "Use DELETE to delete a user and /restore to restore one." }),
  attributes: Attributes,
  roles: Roles,
  externalId: ExternalId.nullish(),
  password: PasswordSchema.optional(),
});

export const UserPatchSchema = z.record(z.string(), JsonValueSchema).openapi("UserPatch", {
  description:
    "A JSON merge patch (RFC 7396) of the user: members set fields, null removes optional ones. Changing `email`, " +
    "`phone` or a `restricted` custom field takes its field grant (`users.email:write`, " +
    "`users.attributes.<name>:write`); without it → 403 FIELD_NOT_WRITABLE naming the field, nothing changed.",
  example: { name: "Ada King", attributes: { department: null, seats: 5 } },
});

export const UserSchema = z
  .object({
    id: z.string().openapi({ example: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    email: z
      .string()
      .optional()
      .openapi({
        description:
          "Left out unless the credential holds `users.email:read` (or is the user's own token): see " +
          "docs/field-permissions.md.",
        example: "ada@example.com",
      }),
    username: z.string().nullable().openapi({ example: "ada" }),
    name: z.string().nullable().openapi({ example: "Ada Lovelace" }),
    phone: z.string().nullable().optional().openapi({
      description: "Left out unless the credential holds `users.phone:read` (or is the user's own token).",
      example: "+14155550123",
    }),
    status: z.enum(USER_STATUSES),
    attributes: z.record(z.string(), z.unknown()).openapi({
      description:
        "Custom field values. A `restricted` field (the default for `pii` ones) is left out unless the credential " +
        "holds `users.attributes.<name>:read`; writing one takes `users.attributes.<name>:write`.",
    }),
    roles: z.array(z.string()),
    externalId: z
      .string()
      .nullable()
      .openapi({ description: "The user's id in a provisioning client (SCIM `externalId`)." }),
    mfa: z.object({ totp: z.boolean() }),
    emailVerified: z.boolean().openapi({
      description:
        "The user proved the address is theirs (POST /v1/email-verifications/confirm); a new email resets it.",
    }),
    createdAt: z.string().openapi({ example: "2026-11-25T19:04:32.123Z" }),
    updatedAt: z.string().openapi({ example: "2026-11-25T19:04:32.123Z" }),
    deletedAt: z.string().nullable(),
    lastLoginAt: z.string().nullable(),
    lastActiveAt: z
      .string()
      .nullable()
      .openapi({
        description:
          "The user's latest login or product activity (POST /v1/activity), accurate to the hour: it moves only when " +
          "an activity is at least an hour after it (docs/activity.md).",
        example: "2026-11-25T19:04:32.123Z",
      }),
    loginCount: z.number().int().openapi({ description: "Successful logins.", example: 12 }),
  })
  .openapi("User");
export type User = z.infer<typeof UserSchema>;

export const UserIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

const BooleanQuery = z
  .enum(["true", "false"])
  .optional()
  .transform((v) => v === "true");

export const IncludeDeletedQuerySchema = z.strictObject({
  includeDeleted: BooleanQuery.openapi({ description: "Also find soft-deleted users." }),
});

export const DeleteQuerySchema = z.strictObject({
  permanent: BooleanQuery.openapi({
    description: "Purge for good (204); the audit trail keeps a tombstone without personal data.",
  }),
});

/** `relevance`: best search match first (only with `q`, whose default order it is). */
export const USER_SORTS = [
  "createdAt",
  "-createdAt",
  "updatedAt",
  "-updatedAt",
  "lastLoginAt",
  "-lastLoginAt",
  "relevance",
] as const;
/** A sortable custom field, ascending or descending (`-attributes.seats`). */
export const ATTRIBUTE_SORT = /^-?attributes\.[A-Za-z][A-Za-z0-9_]{0,63}$/;
export type UserSort = (typeof USER_SORTS)[number] | `attributes.${string}` | `-attributes.${string}`;
