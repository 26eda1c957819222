import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Permission } from "../../core/auth/permissions";
import { type ServiceContext, serviceContext } from "../../core/context";
import { ApiError, CoreErrors } from "../../core/errors";
import { defineRoute } from "../../core/http/route";
import type { AppEnv } from "../../env";
import { securityPolicyOf } from "../security-policy/security-policy.service";
import { SCIM_ERROR_SCHEMA, SCIM_MEDIA_TYPE } from "./scim.errors";

export const SCIM_BASE = "/scim/v2";

/**
 * A SCIM response: RFC 7644 §3.1 `application/scim+json`. Typed `never` so that it satisfies every route's
 * typed JSON response: SCIM documents are checked against their schemas by the tests (scimmy), not by zod.
 */
export function scimJson(
  c: Context<AppEnv>,
  body: unknown,
  status: ContentfulStatusCode = 200,
  headers: Record<string, string> = {},
): never {
  return c.json(body as Record<string, never>, status, { ...headers, "Content-Type": SCIM_MEDIA_TYPE }) as never;
}

export const ScimErrorSchema = z
  .object({
    schemas: z.array(z.literal(SCIM_ERROR_SCHEMA)),
    status: z.string().openapi({ example: "400" }),
    scimType: z.string().optional().openapi({ example: "invalidFilter" }),
    detail: z.string().optional().openapi({ example: 'Unknown attribute "nickName"' }),
  })
  .openapi("ScimError", { description: "RFC 7644 §3.12 error" });

/** Any SCIM resource or message (documented loosely: /scim/v2/Schemas is the authoritative description). */
export const ScimResourceSchema = z.record(z.string(), z.unknown()).openapi("ScimResource", {
  description: "A SCIM resource or message; its schemas are served at /scim/v2/Schemas.",
  example: {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    id: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
    userName: "ada",
    active: true,
  },
});

export function scimBody(example: Record<string, unknown>) {
  return {
    required: true,
    content: {
      [SCIM_MEDIA_TYPE]: { schema: ScimResourceSchema, example },
      "application/json": { schema: ScimResourceSchema, example },
    },
  };
}

export function scimSuccess(description: string) {
  return {
    description,
    headers: { ETag: { schema: { type: "string" as const }, description: "The resource's version (meta.version)" } },
    content: { [SCIM_MEDIA_TYPE]: { schema: ScimResourceSchema } },
  };
}

type RouteConfig = Omit<Parameters<typeof defineRoute>[0], "credential" | "permission" | "feature" | "tags">;

/**
 * A SCIM route: a tenant credential holding `scim:access` (the built-in `scim` role, or `admin`), and every
 * error answered as a SCIM error body (RFC 7644 §3.12), which the document says instead of problem+json.
 */
export function defineScimRoute<const R extends RouteConfig>(config: R) {
  const route = defineRoute({
    ...config,
    tags: ["SCIM"],
    credential: ["tenant"],
    permission: "scim:access",
    feature: "scim",
  });
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const problem = (response as { content?: Record<string, unknown> }).content?.["application/problem+json"];
    if (!problem) {
      responses[status] = response;
      continue;
    }
    responses[status] = {
      description: (response as { description: string }).description,
      content: {
        [SCIM_MEDIA_TYPE]: {
          schema: ScimErrorSchema,
          example: { schemas: [SCIM_ERROR_SCHEMA], status, detail: (response as { description: string }).description },
        },
      },
    };
  }
  return { ...route, responses, "x-error-format": "scim" } as typeof route;
}

/** The service context of a SCIM request, with the tenant's SCIM settings. */
export interface ScimContext extends ServiceContext {
  /** Lenient mode (security policy `scim.lenient`): accept known client quirks (docs/scim.md). */
  lenient: boolean;
  /** The absolute base URL of /scim/v2, for `meta.location` and `$ref`. */
  base: string;
}

export async function scimContext(c: Context<AppEnv>): Promise<ScimContext> {
  const ctx = await serviceContext(c);
  const policy = await securityPolicyOf(c.env, ctx.scope);
  return { ...ctx, lenient: policy.scim.lenient, base: `${new URL(c.req.url).origin}${SCIM_BASE}` };
}

/**
 * `scim:access` lets a credential speak SCIM; what it may change still takes the users permission of the
 * operation, as on /v1/users.
 */
export function requirePermission(ctx: ServiceContext, permission: Permission): void {
  if (ctx.permissions && !ctx.permissions.has(permission)) {
    throw new ApiError(CoreErrors.FORBIDDEN, { detail: `This credential lacks the permission ${permission}.` });
  }
}

/** The JSON body of a SCIM request, already validated as an object by the route. */
export function bodyOf(c: Context<AppEnv>): Record<string, unknown> {
  return (c.req as unknown as { valid(target: "json"): Record<string, unknown> }).valid("json");
}
