import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import {
  ActionIdParamSchema,
  ActionPatchSchema,
  ActionSchema,
  CreateActionSchema,
  CreatedActionSchema,
  ExecutionSchema,
} from "./actions.schema";
import * as actions from "./actions.service";

const tags = ["Actions"];
const credential = ["tenant"] as const;
const feature = "plugins" as const;
const single = (description: string) => ({ description, content: { "application/json": { schema: ActionSchema } } });

const createRoute = defineRoute({
  method: "post",
  path: "/v1/actions",
  tags,
  summary: "Register an HTTP action",
  description:
    "A URL called as a blocking before-hook of `user.create` or `user.login` (docs/actions.md): a signed POST " +
    "(Standard Webhooks headers) whose answer allows, allows with attributes to merge, or denies. The signing " +
    "secret is returned once.",
  credential,
  permission: "plugins:write",
  feature,
  request: { body: { required: true, content: { "application/json": { schema: CreateActionSchema } } } },
  responses: {
    201: {
      description: "The action, with its secret",
      content: { "application/json": { schema: CreatedActionSchema } },
    },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/actions",
  tags,
  summary: "List HTTP actions",
  description: "In the order they run for their trigger (oldest first).",
  credential,
  permission: "plugins:read",
  feature,
  responses: {
    200: {
      description: "Every action",
      content: { "application/json": { schema: z.object({ data: z.array(ActionSchema) }) } },
    },
  },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/actions/{id}",
  tags,
  summary: "Get an HTTP action",
  credential,
  permission: "plugins:read",
  feature,
  errors: [404],
  request: { params: ActionIdParamSchema },
  responses: { 200: single("The action") },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/actions/{id}",
  tags,
  summary: "Change an HTTP action",
  credential,
  permission: "plugins:write",
  feature,
  errors: [404, 409],
  request: {
    params: ActionIdParamSchema,
    body: { required: true, content: { "application/json": { schema: ActionPatchSchema } } },
  },
  responses: { 200: single("The changed action") },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/actions/{id}",
  tags,
  summary: "Delete an HTTP action",
  credential,
  permission: "plugins:write",
  feature,
  errors: [404],
  request: { params: ActionIdParamSchema },
  responses: { 204: { description: "Deleted, with its execution log" } },
});

const executionsRoute = defineRoute({
  method: "get",
  path: "/v1/actions/{id}/executions",
  tags,
  summary: "The action's latest calls",
  description: "Newest first; the last 100 calls are kept. Outcome, HTTP status and duration, never the bodies.",
  credential,
  permission: "plugins:read",
  feature,
  errors: [404],
  request: {
    params: ActionIdParamSchema,
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
  },
  responses: {
    200: {
      description: "Executions",
      content: {
        "application/json": {
          schema: z.object({ data: z.array(ExecutionSchema) }).openapi({
            example: {
              data: [
                {
                  id: "axe_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
                  trigger: "user.create.before",
                  outcome: "denied",
                  httpStatus: 200,
                  durationMs: 84,
                  error: null,
                  createdAt: "2026-05-01T10:00:00.000Z",
                },
              ],
            },
          }),
        },
      },
    },
  },
});

export const actionsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const ctx = await serviceContext(c);
    if (!ctx.tenant) throw new Error("a tenant route without a tenant");
    const created = await actions.createAction({ ...ctx, tenant: ctx.tenant }, c.req.valid("json"));
    return c.json(created, 201, { Location: `/v1/actions/${created.id}` });
  })
  .openapi(listRoute, async (c) => c.json({ data: await actions.listActions(await serviceContext(c)) }, 200))
  .openapi(getRoute, async (c) =>
    c.json(await actions.getAction(await serviceContext(c), c.req.valid("param").id), 200),
  )
  .openapi(patchRoute, async (c) =>
    c.json(await actions.updateAction(await serviceContext(c), c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(deleteRoute, async (c) => {
    await actions.deleteAction(await serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(executionsRoute, async (c) => {
    const ctx = await serviceContext(c);
    const data = await actions.listExecutions(ctx, c.req.valid("param").id, c.req.valid("query").limit);
    return c.json({ data }, 200);
  });
