import { OpenAPIHono } from "@hono/zod-openapi";
import { Grants } from "../../core/auth/grants";
import { serviceContext } from "../../core/context";
import { PageQuerySchema, pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv, Auth } from "../../env";
import {
  ClientIdParamSchema,
  CreateClientSchema,
  OAuthClientSchema,
  OAuthClientWithSecretSchema,
} from "./clients.schema";
import * as clients from "./clients.service";

const tags = ["OAuth"];
const credential = ["tenant"] as const;

const createRoute = defineRoute({
  method: "post",
  path: "/v1/oauth/clients",
  tags,
  summary: "Register an OAuth client",
  description:
    "A confidential client: the secret is returned once (only its SHA-256 is stored). The client may carry only " +
    "roles whose permissions the caller holds itself.",
  credential,
  permission: "oauth-clients:write",
  feature: "credentials",
  request: { body: { required: true, content: { "application/json": { schema: CreateClientSchema } } } },
  responses: {
    201: {
      description: "The client, with its secret shown this once",
      content: { "application/json": { schema: OAuthClientWithSecretSchema } },
    },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/oauth/clients",
  tags,
  summary: "List OAuth clients",
  description: "Oldest first; deleted clients are not listed. Never a secret.",
  credential,
  permission: "oauth-clients:read",
  feature: "credentials",
  request: { query: PageQuerySchema },
  responses: {
    200: {
      description: "A page of clients",
      content: { "application/json": { schema: pageSchema(OAuthClientSchema, "OAuthClientPage") } },
    },
  },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/oauth/clients/{id}",
  tags,
  summary: "Delete an OAuth client",
  description:
    "The client stops at once, and so does every token it obtained: its own access tokens, and the sessions " +
    "(refresh tokens and access tokens) of the end users who logged in through it.",
  credential,
  permission: "oauth-clients:write",
  feature: "credentials",
  errors: [404],
  request: { params: ClientIdParamSchema },
  responses: { 204: { description: "Deleted" } },
});

function permissionsOf(auth: Auth) {
  return auth.kind === "tenant" ? auth.permissions : Grants.NONE;
}

export const oauthClientRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const ctx = await serviceContext(c);
    const client = await clients.createClient(ctx, permissionsOf(c.get("auth")), c.req.valid("json"));
    return c.json(client, 201, { "Cache-Control": "no-store" });
  })
  .openapi(listRoute, async (c) => {
    return c.json(await clients.listClients(await serviceContext(c), c.req.valid("query")), 200);
  })
  .openapi(deleteRoute, async (c) => {
    await clients.deleteClient(await serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
