import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { serviceContext } from "../context";
import { JsonValueSchema } from "../http/json-value";
import { defineRoute } from "../http/route";
import { validationHook } from "../http/validation";
import { disablePlugin, listPlugins, putPlugin } from "./enablement.service";

const tags = ["Plugins"];
// a plugin id names a compiled-in plugin, the same for every tenant; the write changes only the caller's own settings
const shared = { "x-shared-resource": true };

const PluginSchema = z
  .object({
    id: z.string().openapi({ example: "crm-sync" }),
    version: z.string().openapi({ example: "1.0.0" }),
    description: z.string(),
    permissions: z.array(z.object({ permission: z.string(), description: z.string() })),
    routes: z.array(z.string()).openapi({ description: "`METHOD /path` of each route the plugin mounts." }),
    hooks: z.array(z.string()).openapi({ example: ["user.create.before"] }),
    events: z.array(z.string()).openapi({ description: "Event types it handles.", example: ["user.created"] }),
    configSchema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of `config`." }),
    secrets: z.array(z.string()).openapi({ description: "Members of `config` stored sealed and never returned." }),
    enabled: z.boolean(),
    config: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: "The tenant's configuration without its secret members; null when never configured." }),
    secretsSet: z.array(z.string()).openapi({ description: "The secret members that have a value." }),
    updatedAt: z.string().nullable(),
  })
  .openapi("Plugin");

const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "crm-sync" }),
});

const PutBody = z
  .strictObject({
    enabled: z.boolean().default(true),
    config: z.record(z.string(), JsonValueSchema).default({}),
  })
  .openapi("PluginSettings", {
    example: { enabled: true, config: { url: "https://crm.example.com/hooks/users", fieldMap: { email: "Email" } } },
  });

const listRoute = defineRoute({
  method: "get",
  path: "/v1/plugins",
  tags,
  summary: "List the plugins and whether this tenant enabled them",
  credential: ["tenant"],
  permission: "plugins:read",
  feature: "plugins",
  responses: {
    200: {
      description: "Every compiled-in plugin",
      content: { "application/json": { schema: z.object({ data: z.array(PluginSchema) }) } },
    },
  },
});

const putRoute = defineRoute({
  ...shared,
  method: "put",
  path: "/v1/plugins/{id}",
  tags,
  summary: "Enable or configure a plugin for this tenant",
  description:
    "`config` is validated by the plugin's schema (`configSchema`); its secret members are sealed at rest and never " +
    "returned, and one left out keeps its current value. `enabled: false` keeps the configuration but stops the plugin.",
  credential: ["tenant"],
  permission: "plugins:write",
  feature: "plugins",
  errors: [404],
  request: { params: IdParam, body: { required: true, content: { "application/json": { schema: PutBody } } } },
  responses: { 200: { description: "The plugin", content: { "application/json": { schema: PluginSchema } } } },
});

const deleteRoute = defineRoute({
  ...shared,
  method: "delete",
  path: "/v1/plugins/{id}",
  tags,
  summary: "Disable a plugin for this tenant",
  description:
    "Its routes answer 403 PLUGIN_NOT_ENABLED and its hooks and event handlers stop; the configuration stays.",
  credential: ["tenant"],
  permission: "plugins:write",
  feature: "plugins",
  errors: [404],
  request: { params: IdParam },
  responses: { 204: { description: "Disabled" } },
});

export const pluginsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => c.json({ data: await listPlugins(await serviceContext(c)) }, 200))
  .openapi(putRoute, async (c) => {
    const ctx = await serviceContext(c);
    const tenant = ctx.tenant;
    if (!tenant) throw new Error("a tenant route without a tenant");
    const body = c.req.valid("json");
    return c.json(await putPlugin({ ...ctx, tenant }, c.req.valid("param").id, body as never), 200);
  })
  .openapi(deleteRoute, async (c) => {
    await disablePlugin(await serviceContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
