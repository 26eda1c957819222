import { OpenAPIHono, z } from "@hono/zod-openapi";
import { notModified } from "../../core/http/etag";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { bodyOf, defineScimRoute, SCIM_BASE, scimBody, scimContext, scimJson, scimSuccess } from "./scim.http";
import { URN } from "./scim.urns";
import * as service from "./scim.users.service";

const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
});

const ProjectionQuery = z.object({
  attributes: z.string().max(2000).optional().openapi({ description: "Only these attributes (and id, schemas)." }),
  excludedAttributes: z.string().max(2000).optional().openapi({ description: "Leave these attributes out." }),
});

const ListQuery = ProjectionQuery.extend({
  filter: z.string().max(2000).optional().openapi({ example: 'userName eq "ada"' }),
  startIndex: z.coerce.number().int().default(1).openapi({ description: "1-based index of the first result." }),
  count: z.coerce
    .number()
    .int()
    .default(service.SCIM_DEFAULT_COUNT)
    .openapi({ description: `Page size (at most ${service.SCIM_MAX_RESULTS}).` }),
  sortBy: z.string().max(200).optional().openapi({ example: "meta.created" }),
  sortOrder: z.enum(["ascending", "descending"]).optional(),
});

const ifMatch = z.object({ "if-match": z.string().optional() });

const USER_EXAMPLE = {
  schemas: [URN.user],
  userName: "ada",
  name: { formatted: "Ada Lovelace" },
  emails: [{ value: "ada@example.com", type: "work", primary: true }],
  active: true,
};

const listRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/Users`,
  summary: "SCIM: list or search users",
  request: { query: ListQuery },
  responses: { 200: scimSuccess("A ListResponse of Users") },
});

const createRoute = defineScimRoute({
  method: "post",
  path: `${SCIM_BASE}/Users`,
  summary: "SCIM: create a user",
  errors: [409],
  request: { query: ProjectionQuery, body: scimBody(USER_EXAMPLE) },
  responses: { 201: scimSuccess("The created User") },
});

const getRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/Users/{id}`,
  summary: "SCIM: get a user",
  errors: [404],
  request: { params: IdParam, query: ProjectionQuery, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: { 200: scimSuccess("The User"), 304: { description: "Not modified (If-None-Match)" } },
});

const putRoute = defineScimRoute({
  method: "put",
  path: `${SCIM_BASE}/Users/{id}`,
  summary: "SCIM: replace a user",
  errors: [404, 409, 412],
  request: { params: IdParam, query: ProjectionQuery, headers: ifMatch, body: scimBody(USER_EXAMPLE) },
  responses: { 200: scimSuccess("The replaced User") },
});

const patchRoute = defineScimRoute({
  method: "patch",
  path: `${SCIM_BASE}/Users/{id}`,
  summary: "SCIM: modify a user (PatchOp)",
  errors: [404, 409, 412],
  request: {
    params: IdParam,
    query: ProjectionQuery,
    headers: ifMatch,
    body: scimBody({
      schemas: [URN.patchOp],
      Operations: [{ op: "replace", path: 'emails[type eq "work"].value', value: "ada@example.org" }],
    }),
  },
  responses: { 200: scimSuccess("The modified User") },
});

const deleteRoute = defineScimRoute({
  method: "delete",
  path: `${SCIM_BASE}/Users/{id}`,
  summary: "SCIM: delete a user (soft delete)",
  errors: [404, 412],
  request: { params: IdParam, headers: ifMatch },
  responses: { 204: { description: "Deleted (restorable through POST /v1/users/{id}/restore)" } },
});

function headersOf(user: service.ScimUser): Record<string, string> {
  return { ETag: user.etag, Location: String((user.doc.meta as { location: string }).location) };
}

export const scimUsersRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    return scimJson(c, await service.listScimUsers(await scimContext(c), c.req.valid("query")));
  })
  .openapi(createRoute, async (c) => {
    const user = await service.createScimUser(await scimContext(c), bodyOf(c));
    return scimJson(c, service.shown(user, c.req.valid("query")), 201, headersOf(user));
  })
  .openapi(getRoute, async (c) => {
    const user = await service.getScimUser(await scimContext(c), c.req.valid("param").id);
    if (notModified(c.req.valid("header")["if-none-match"], user.etag)) return c.body(null, 304, { ETag: user.etag });
    return scimJson(c, service.shown(user, c.req.valid("query")), 200, headersOf(user));
  })
  .openapi(putRoute, async (c) => {
    const ctx = await scimContext(c);
    const user = await service.replaceScimUser(
      ctx,
      c.req.valid("param").id,
      bodyOf(c),
      c.req.valid("header")["if-match"],
    );
    return scimJson(c, service.shown(user, c.req.valid("query")), 200, headersOf(user));
  })
  .openapi(patchRoute, async (c) => {
    const ctx = await scimContext(c);
    const user = await service.patchScimUser(
      ctx,
      c.req.valid("param").id,
      bodyOf(c),
      c.req.valid("header")["if-match"],
    );
    return scimJson(c, service.shown(user, c.req.valid("query")), 200, headersOf(user));
  })
  .openapi(deleteRoute, async (c) => {
    await service.deleteScimUser(await scimContext(c), c.req.valid("param").id, c.req.valid("header")["if-match"]);
    return c.body(null, 204);
  });
