import { OpenAPIHono, z } from "@hono/zod-openapi";
import { notModified } from "../../core/http/etag";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import * as service from "./scim.groups.service";
import { bodyOf, defineScimRoute, SCIM_BASE, scimBody, scimContext, scimJson, scimSuccess } from "./scim.http";
import { URN } from "./scim.urns";
import { SCIM_DEFAULT_COUNT, SCIM_MAX_RESULTS } from "./scim.users.service";

const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "sales-team" }),
});

const ProjectionQuery = z.object({
  attributes: z.string().max(2000).optional(),
  excludedAttributes: z.string().max(2000).optional().openapi({ example: "members" }),
});

const ListQuery = ProjectionQuery.extend({
  filter: z.string().max(2000).optional().openapi({ example: 'displayName eq "Sales Team"' }),
  startIndex: z.coerce.number().int().default(1),
  count: z.coerce.number().int().default(SCIM_DEFAULT_COUNT),
  sortBy: z.string().max(200).optional(),
  sortOrder: z.enum(["ascending", "descending"]).optional(),
});

const ifMatch = z.object({ "if-match": z.string().optional() });
const GROUP_EXAMPLE = { schemas: [URN.group], displayName: "Sales Team", members: [] };

const listRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/Groups`,
  summary: "SCIM: list groups (roles)",
  request: { query: ListQuery },
  responses: { 200: scimSuccess("A ListResponse of Groups") },
});

const createRoute = defineScimRoute({
  method: "post",
  path: `${SCIM_BASE}/Groups`,
  summary: "SCIM: create a group (a role)",
  errors: [409],
  request: { query: ProjectionQuery, body: scimBody(GROUP_EXAMPLE) },
  responses: { 201: scimSuccess("The created Group") },
});

const getRoute = defineScimRoute({
  method: "get",
  path: `${SCIM_BASE}/Groups/{id}`,
  summary: "SCIM: get a group",
  errors: [404],
  request: { params: IdParam, query: ProjectionQuery, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: { 200: scimSuccess("The Group"), 304: { description: "Not modified (If-None-Match)" } },
});

const putRoute = defineScimRoute({
  method: "put",
  path: `${SCIM_BASE}/Groups/{id}`,
  summary: "SCIM: replace a group (its name and members)",
  errors: [404, 409, 412],
  request: { params: IdParam, query: ProjectionQuery, headers: ifMatch, body: scimBody(GROUP_EXAMPLE) },
  responses: { 200: scimSuccess("The replaced Group") },
});

const patchRoute = defineScimRoute({
  method: "patch",
  path: `${SCIM_BASE}/Groups/{id}`,
  summary: "SCIM: modify a group (PatchOp), e.g. add or remove members",
  errors: [404, 409, 412],
  request: {
    params: IdParam,
    query: ProjectionQuery,
    headers: ifMatch,
    body: scimBody({
      schemas: [URN.patchOp],
      Operations: [{ op: "add", path: "members", value: [{ value: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }] }],
    }),
  },
  responses: { 200: scimSuccess("The modified Group") },
});

const deleteRoute = defineScimRoute({
  method: "delete",
  path: `${SCIM_BASE}/Groups/{id}`,
  summary: "SCIM: delete a group (its members lose the role)",
  errors: [404, 412],
  request: { params: IdParam, headers: ifMatch },
  responses: { 204: { description: "Deleted" } },
});

function headersOf(group: service.ScimGroup): Record<string, string> {
  return { ETag: group.etag, Location: String((group.doc.meta as { location: string }).location) };
}

export const scimGroupsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    return scimJson(c, await service.listScimGroups(await scimContext(c), c.req.valid("query"), SCIM_MAX_RESULTS));
  })
  .openapi(createRoute, async (c) => {
    const group = await service.createScimGroup(await scimContext(c), bodyOf(c));
    return scimJson(c, service.shownGroup(group, c.req.valid("query")), 201, headersOf(group));
  })
  .openapi(getRoute, async (c) => {
    const group = await service.getScimGroup(await scimContext(c), c.req.valid("param").id);
    const ifNoneMatch = c.req.valid("header")["if-none-match"];
    if (notModified(ifNoneMatch?.replace(/^W\//, ""), group.etag.replace(/^W\//, ""))) {
      return c.body(null, 304, { ETag: group.etag });
    }
    return scimJson(c, service.shownGroup(group, c.req.valid("query")), 200, headersOf(group));
  })
  .openapi(putRoute, async (c) => {
    const ctx = await scimContext(c);
    const id = c.req.valid("param").id;
    const group = await service.replaceScimGroup(ctx, id, bodyOf(c), c.req.valid("header")["if-match"]);
    return scimJson(c, service.shownGroup(group, c.req.valid("query")), 200, headersOf(group));
  })
  .openapi(patchRoute, async (c) => {
    const ctx = await scimContext(c);
    const id = c.req.valid("param").id;
    const group = await service.patchScimGroup(ctx, id, bodyOf(c), c.req.valid("header")["if-match"]);
    return scimJson(c, service.shownGroup(group, c.req.valid("query")), 200, headersOf(group));
  })
  .openapi(deleteRoute, async (c) => {
    await service.deleteScimGroup(await scimContext(c), c.req.valid("param").id, c.req.valid("header")["if-match"]);
    return c.body(null, 204);
  });
