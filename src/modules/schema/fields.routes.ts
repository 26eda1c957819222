import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  type CreateFieldInput,
  CreateFieldSchema,
  DryRunQuerySchema,
  DryRunReportSchema,
  FieldListSchema,
  FieldNameParamSchema,
  type FieldPatch,
  FieldPatchSchema,
  FieldSchema,
} from "./fields.schema";
import * as fields from "./fields.service";

const tags = ["Schema"];
const credential = ["tenant"] as const;
const etagHeader = { ETag: { schema: { type: "string" as const } } };
const single = (description: string) => ({
  description,
  headers: etagHeader,
  content: { "application/json": { schema: FieldSchema } },
});
const ifMatchHeaders = z.object({
  "if-match": z
    .string()
    .optional()
    .openapi({ description: "Change only if the field still has this ETag (else 412)." }),
});

const createRoute = defineRoute({
  method: "post",
  path: "/v1/schema/fields",
  tags,
  summary: "Define a custom field",
  description:
    "Values live under the user's `attributes.<name>`. Refused (409 with the number of users and a sample) when " +
    "values already stored under that name would not fit, or when a required field without a default or a unique " +
    "field is not yet true of every user. A default is written to existing users in the background.",
  credential,
  permission: "schema:write",
  feature: "custom-schema",
  errors: [409],
  request: { body: { required: true, content: { "application/json": { schema: CreateFieldSchema } } } },
  responses: { 201: single("The field") },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/schema/fields",
  tags,
  summary: "List custom fields",
  description: "Every field (at most 100), oldest first, in one page.",
  credential,
  permission: "schema:read",
  feature: "custom-schema",
  responses: { 200: { description: "The fields", content: { "application/json": { schema: FieldListSchema } } } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/schema/fields/{name}",
  tags,
  summary: "Get a custom field",
  description: "By name, or by its previous name while a rename's transition lasts.",
  credential,
  permission: "schema:read",
  feature: "custom-schema",
  errors: [404],
  request: { params: FieldNameParamSchema, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: { 200: single("The field"), 304: { description: "Not modified (If-None-Match)" } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/schema/fields/{name}",
  tags,
  summary: "Change a custom field",
  description:
    "Members set rules, null clears one. Renaming keeps the old name accepted for 30 days; a type change or a " +
    "tighter rule needs every existing value to fit (else 409 with the number of users and a sample). " +
    "`dryRun=true` reports what the change would meet, changing nothing. Work on existing users runs in the " +
    "background (`pendingChanges`); reads show its effect at once.",
  credential,
  permission: "schema:write",
  feature: "custom-schema",
  errors: [404, 409, 412],
  request: {
    params: FieldNameParamSchema,
    query: DryRunQuerySchema,
    headers: ifMatchHeaders,
    body: { required: true, content: { "application/json": { schema: FieldPatchSchema } } },
  },
  responses: {
    200: {
      description: "The changed field, or with `dryRun=true` the report",
      headers: etagHeader,
      content: { "application/json": { schema: z.union([FieldSchema, DryRunReportSchema]) } },
    },
  },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/schema/fields/{name}",
  tags,
  summary: "Delete a custom field",
  description:
    "The field disappears from every user at once; its stored values are removed in the background, and its name " +
    "is free again when they are.",
  credential,
  permission: "schema:write",
  feature: "custom-schema",
  errors: [404, 412],
  request: { params: FieldNameParamSchema, headers: ifMatchHeaders },
  responses: { 204: { description: "Deleted" } },
});

export const fieldsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const input = c.req.valid("json") as CreateFieldInput;
    const { field, etag } = await fields.createField(await serviceContext(c), input);
    return c.json(field, 201, { ETag: etag, Location: `/v1/schema/fields/${field.name}` });
  })
  .openapi(listRoute, async (c) => c.json(await fields.listFields(await serviceContext(c)), 200))
  .openapi(getRoute, async (c) => {
    const { field, etag } = await fields.getField(await serviceContext(c), c.req.valid("param").name);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(field, 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const result = await fields.updateField(
      await serviceContext(c),
      c.req.valid("param").name,
      c.req.valid("json") as FieldPatch,
      { ifMatch: c.req.header("if-match"), dryRun: c.req.valid("query").dryRun },
    );
    if ("dryRun" in result) return c.json(result, 200);
    return c.json(result.field, 200, { ETag: result.etag });
  })
  .openapi(deleteRoute, async (c) => {
    await fields.deleteField(await serviceContext(c), c.req.valid("param").name, c.req.header("if-match"));
    return c.body(null, 204);
  });
