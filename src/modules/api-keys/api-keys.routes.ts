import { OpenAPIHono, z } from "@hono/zod-openapi";
import { Grants } from "../../core/auth/grants";
import { serviceContext } from "../../core/context";
import { etagOf, notModified } from "../../core/http/etag";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv, Auth } from "../../env";
import {
  ApiKeyIdParamSchema,
  ApiKeySchema,
  ApiKeyWithSecretSchema,
  CreateApiKeySchema,
  RotateApiKeySchema,
} from "./api-keys.schema";
import * as apiKeys from "./api-keys.service";

const tags = ["API keys"];
const credential = ["tenant"] as const;
const etagHeader = { ETag: { schema: { type: "string" as const } } };

const createRoute = defineRoute({
  method: "post",
  path: "/v1/api-keys",
  tags,
  summary: "Create an API key",
  description:
    "Returns the secret once (only its hash is stored). The key may carry only roles whose permissions the caller " +
    "holds itself.",
  credential,
  permission: "api-keys:write",
  feature: "credentials",
  request: { body: { required: true, content: { "application/json": { schema: CreateApiKeySchema } } } },
  responses: {
    201: {
      description: "The key, with its secret shown this once",
      headers: etagHeader,
      content: { "application/json": { schema: ApiKeyWithSecretSchema } },
    },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/api-keys",
  tags,
  summary: "List API keys",
  description: "Oldest first, revoked keys included (with `revokedAt`). Never a secret: a masked tail only.",
  credential,
  permission: "api-keys:read",
  feature: "credentials",
  request: { query: PageQuerySchema },
  responses: {
    200: {
      description: "A page of API keys",
      content: { "application/json": { schema: pageSchema(ApiKeySchema, "ApiKeyPage") } },
    },
  },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/api-keys/{id}",
  tags,
  summary: "Get an API key",
  credential,
  permission: "api-keys:read",
  feature: "credentials",
  errors: [404],
  request: { params: ApiKeyIdParamSchema, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: {
    200: { description: "The key", headers: etagHeader, content: { "application/json": { schema: ApiKeySchema } } },
    304: { description: "Not modified" },
  },
});

const revokeRoute = defineRoute({
  method: "delete",
  path: "/v1/api-keys/{id}",
  tags,
  summary: "Revoke an API key",
  description: "Refused (401) on every endpoint from the next request on; the key stays listed with `revokedAt`.",
  credential,
  permission: "api-keys:write",
  feature: "credentials",
  errors: [404, 412],
  request: { params: ApiKeyIdParamSchema, headers: z.object({ "if-match": z.string().optional() }) },
  responses: { 204: { description: "Revoked (also when it already was)" } },
});

const rotateRoute = defineRoute({
  method: "post",
  path: "/v1/api-keys/{id}/rotate",
  tags,
  summary: "Rotate an API key's secret",
  description:
    "A new secret, shown once. The old one keeps working for `gracePeriodSeconds` (default 0: it stops at once).",
  credential,
  permission: "api-keys:write",
  feature: "credentials",
  errors: [404],
  request: {
    params: ApiKeyIdParamSchema,
    body: { required: false, content: { "application/json": { schema: RotateApiKeySchema } } },
  },
  responses: {
    200: {
      description: "The key, with its new secret shown this once",
      headers: etagHeader,
      content: { "application/json": { schema: ApiKeyWithSecretSchema } },
    },
  },
});

/** What the caller holds: it may grant no more than that. */
function permissionsOf(auth: Auth) {
  return auth.kind === "tenant" ? auth.permissions : Grants.NONE;
}

export const apiKeysRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { key, etag } = await apiKeys.createApiKey(ctx, permissionsOf(c.get("auth")), c.req.valid("json"));
    return c.json(key, 201, { ETag: etag, Location: `/v1/api-keys/${key.id}`, "Cache-Control": "no-store" });
  })
  .openapi(listRoute, async (c) =>
    c.json(await apiKeys.listApiKeys(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(getRoute, async (c) => {
    const row = await apiKeys.getApiKey(await serviceContext(c), c.req.valid("param").id);
    const etag = etagOf(row.version);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(apiKeys.toApiKey(row), 200, { ETag: etag });
  })
  .openapi(revokeRoute, async (c) => {
    await apiKeys.revokeApiKey(await serviceContext(c), c.req.valid("param").id, c.req.header("if-match"));
    return c.body(null, 204);
  })
  .openapi(rotateRoute, async (c) => {
    const ctx = await serviceContext(c);
    // the body is optional: without one there is nothing to validate, so the default is applied here
    const grace = c.req.valid("json").gracePeriodSeconds ?? 0;
    const { key, etag } = await apiKeys.rotateApiKey(ctx, permissionsOf(c.get("auth")), c.req.valid("param").id, grace);
    return c.json(key, 200, { ETag: etag, "Cache-Control": "no-store" });
  });
