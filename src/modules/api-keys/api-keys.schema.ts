import { z } from "@hono/zod-openapi";
import { ASSIGNMENT_PATTERN, ASSIGNMENT_SYNTAX } from "../../core/auth/assignments";
import { LATEST_VERSION, VERSION_NAMES } from "../versions/versions.registry";

/** A grace period may last at most seven days: long enough to redeploy everywhere, short enough to matter. */
export const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 60 * 60;

const KEY_ID_EXAMPLE = "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A";
const SECRET_EXAMPLE = "uom_sk_4hWq0v2m0PZ6bq3Y1x8RkT5aLcN7dEfGh1a2B3";

/** A role, or a role scoped to a sub-account (`manager@ten_…`, docs/sub-accounts.md). */
const RoleName = z.string().regex(ASSIGNMENT_PATTERN, ASSIGNMENT_SYNTAX);

export const CreateApiKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).openapi({ example: "Billing service" }),
    roles: z
      .array(RoleName)
      .min(1)
      .max(50)
      .openapi({
        description:
          "Built-in (admin, manager, basic, scim) or custom roles (GET /v1/roles); only roles whose grants you hold. " +
          "`role@<sub-account id>` scopes a role to a sub-account: it applies only when the key acts there (Uom-Account).",
      }),
    expiresAt: z.iso
      .datetime({ offset: true })
      .nullish()
      .openapi({ description: "RFC 3339; in the future. Absent or null: never expires. Cannot be changed later." }),
    apiVersion: z
      .enum(VERSION_NAMES)
      .optional()
      .openapi({
        description:
          "The dated API version the key is pinned to: requests without a `Uom-Version` header are answered in it " +
          `(GET /v1/versions). Default: the latest, ${LATEST_VERSION}. Cannot be changed later.`,
        example: LATEST_VERSION,
      }),
  })
  .openapi("CreateApiKey", { example: { name: "Billing service", roles: ["manager"] } });
export type CreateApiKeyInput = z.infer<typeof CreateApiKeySchema>;

export const RotateApiKeySchema = z
  .strictObject({
    gracePeriodSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_PERIOD_SECONDS)
      .optional()
      .openapi({ description: "How long the old secret keeps working (0 … 604800; default 0: it stops at once)." }),
  })
  .openapi("RotateApiKey", { example: { gracePeriodSeconds: 0 } });

export const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: KEY_ID_EXAMPLE }),
    name: z.string().openapi({ example: "Billing service" }),
    roles: z.array(z.string()).openapi({ example: ["manager"] }),
    maskedSecret: z
      .string()
      .openapi({ description: "The current secret's prefix and last 4 characters.", example: "uom_sk_…a2B3" }),
    createdAt: z.string().openapi({ example: "2026-11-25T19:04:32.123Z" }),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().openapi({
      description: "The last authenticated request, recorded in batches: it may lag by a minute or so.",
    }),
    revokedAt: z.string().nullable(),
    apiVersion: z.string().openapi({
      description: "The dated API version requests without a `Uom-Version` header are answered in.",
      example: LATEST_VERSION,
    }),
  })
  .openapi("ApiKey");
export type ApiKey = z.infer<typeof ApiKeySchema>;

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
  secret: z.string().openapi({ description: "Shown this once: only its hash is stored.", example: SECRET_EXAMPLE }),
}).openapi("ApiKeyWithSecret");

export const ApiKeyIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: KEY_ID_EXAMPLE }),
});
