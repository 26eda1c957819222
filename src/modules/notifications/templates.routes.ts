import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  CreateTemplateSchema,
  PreviewResultSchema,
  PreviewSchema,
  TemplateIdParamSchema,
  TemplateListQuerySchema,
  TemplatePatchSchema,
  TemplateSchema,
} from "./templates.schema";
import * as templates from "./templates.service";

const tags = ["Notifications"];
const credential = ["tenant"] as const;
const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });

const createRoute = defineRoute({
  method: "post",
  path: "/v1/notification-templates",
  tags,
  summary: "Create a notification template",
  description:
    "One template per event, channel and locale (409 TEMPLATE_EXISTS); it replaces the shipped default for the " +
    "same three. Variables are `{{dotted.names}}` (see the event's sample data in a preview); in `html` every " +
    "value is HTML-escaped and `{{{…}}}` is refused. Email needs a subject; SMS has text only.",
  credential,
  permission: "notifications:write",
  feature: "notifications",
  errors: [409],
  request: { body: { required: true, ...json(CreateTemplateSchema) } },
  responses: { 201: { description: "The template was created", ...json(TemplateSchema) } },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/notification-templates",
  tags,
  summary: "List notification templates",
  description:
    "The tenant's templates, then the shipped defaults (`builtIn: true`, ids `default.…`) unless " +
    "`includeDefaults=false`. A message uses the tenant's template along the user's locale chain (`fr-CA`, `fr`, " +
    "the default locale, `en`), else a default along the same chain.",
  credential,
  permission: "notifications:read",
  feature: "notifications",
  request: { query: TemplateListQuerySchema },
  responses: {
    200: {
      description: "The templates",
      ...json(z.object({ data: z.array(TemplateSchema) }).openapi("NotificationTemplateList")),
    },
  },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/notification-templates/{id}",
  tags,
  summary: "Get a notification template",
  credential,
  permission: "notifications:read",
  feature: "notifications",
  errors: [404],
  request: { params: TemplateIdParamSchema },
  responses: { 200: { description: "The template", ...json(TemplateSchema) } },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/notification-templates/{id}",
  tags,
  summary: "Change a notification template",
  description: "Name, subject, html and text; the shipped defaults are read-only (409 DEFAULT_TEMPLATE).",
  credential,
  permission: "notifications:write",
  feature: "notifications",
  errors: [404, 409],
  request: { params: TemplateIdParamSchema, body: { required: true, ...json(TemplatePatchSchema) } },
  responses: { 200: { description: "The changed template", ...json(TemplateSchema) } },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/notification-templates/{id}",
  tags,
  summary: "Delete a notification template",
  description: "The shipped default for the same event, channel and locale applies again.",
  credential,
  permission: "notifications:write",
  feature: "notifications",
  errors: [404, 409],
  request: { params: TemplateIdParamSchema },
  responses: { 204: { description: "Deleted" } },
});

const previewRoute = defineRoute({
  method: "post",
  path: "/v1/notification-templates/{id}/preview",
  tags,
  summary: "Render a template",
  description:
    "Renders subject, html and text with `data`, or with the event's sample data when none is given. Changes " +
    "nothing. `warnings` lists the variables the data lacks (they render empty).",
  credential,
  permission: "notifications:read",
  feature: "notifications",
  errors: [404],
  request: { params: TemplateIdParamSchema, body: { required: false, ...json(PreviewSchema) } },
  responses: { 200: { description: "The rendered message", ...json(PreviewResultSchema) } },
});

export const templatesRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const template = await templates.createTemplate(await serviceContext(c), c.req.valid("json"));
    return c.json(template, 201, { Location: `/v1/notification-templates/${template.id}` });
  })
  .openapi(listRoute, async (c) =>
    c.json({ data: await templates.listTemplates(await serviceContext(c), c.req.valid("query")) }, 200),
  )
  .openapi(getRoute, async (c) =>
    c.json(await templates.getTemplate(await serviceContext(c), c.req.valid("param").id), 200),
  )
  .openapi(patchRoute, async (c) => {
    const ctx = await serviceContext(c);
    return c.json(await templates.updateTemplate(ctx, c.req.valid("param").id, c.req.valid("json")), 200);
  })
  .openapi(deleteRoute, async (c) => {
    await templates.deleteTemplate(await serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(previewRoute, async (c) => {
    const body = (c.req.valid("json") as { data?: Record<string, unknown> } | undefined) ?? {};
    return c.json(await templates.previewTemplate(await serviceContext(c), c.req.valid("param").id, body.data), 200);
  });
