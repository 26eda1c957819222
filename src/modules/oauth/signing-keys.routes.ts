import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { issuerOf } from "./oauth.config";
import { rotateSigningKey } from "./signing-keys";

const tags = ["OAuth"];

const RotationSchema = z
  .strictObject({
    immediate: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Sign with the new key at once instead of after the JWKS caches expired (relying parties that cache the " +
          "JWKS may then meet an unknown kid and must refetch).",
      }),
    revokePrevious: z.boolean().optional().openapi({
      description: "The previous keys leave the JWKS at once and tokens they signed stop (a compromised key).",
    }),
  })
  .openapi("SigningKeyRotation", { example: { immediate: false } });

const RotatedKeySchema = z
  .object({
    kid: z.string().openapi({ example: "sig_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    createdAt: z.string().openapi({ example: "2026-11-25T19:04:32.123Z" }),
    activatesAt: z.string().openapi({ example: "2026-11-25T19:10:32.123Z" }),
    retired: z.array(
      z.object({
        kid: z.string().openapi({ example: "sig_01JC2A6Q1W3V8K2N4T5R6Y7P9B" }),
        retiresAt: z.string().openapi({ example: "2026-11-25T19:10:32.123Z" }),
        expiresAt: z.string().openapi({ example: "2026-11-25T20:10:32.123Z" }),
      }),
    ),
  })
  .openapi("RotatedSigningKey");

const rotateKeysRoute = defineRoute({
  method: "post",
  path: "/v1/oauth/signing-keys/rotate",
  tags,
  summary: "Rotate the access-token signing key",
  description:
    "Platform admin. Adds a new ES256 key (published at once) and retires the current one when the new one " +
    "takes over; a retired key stays in the JWKS until every token it signed has expired. The daily job does " +
    "this every 30 days.",
  credential: ["admin"],
  request: { body: { required: false, content: { "application/json": { schema: RotationSchema } } } },
  responses: {
    201: { description: "The new key", content: { "application/json": { schema: RotatedKeySchema } } },
  },
});

export const signingKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  rotateKeysRoute,
  async (c) => {
    const rotated = await rotateSigningKey(await serviceContext(c), c.req.valid("json"));
    // this location's cached JWKS goes at once: an incident rotation (immediate, revokePrevious) cannot wait for
    // its max-age, and a planned one shows its new key sooner
    const issuer = issuerOf(c.env, new URL(c.req.url).origin);
    await Promise.all(
      [...new Set([new URL(c.req.url).origin, issuer])].map((base) =>
        caches.default.delete(`${base}/.well-known/jwks.json`),
      ),
    );
    return c.json(rotated, 201);
  },
);
