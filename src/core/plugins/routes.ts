import { type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, TenantRef } from "../../env";
import type { Permission } from "../auth/permissions";
import { requestInfo, type ServiceContext, serviceContext, waitUntilOf } from "../context";
import { ApiError } from "../errors";
import { defineRoute } from "../http/route";
import { planIncludes } from "../plans";
import { pluginContext } from "./context";
import type { AnyPlugin, Handler, PluginContext } from "./define";
import { PluginErrors } from "./errors";
import type { PluginRegistry } from "./registry";
import { findSettings } from "./settings";
import { systemContext, tenantById } from "./tenant";

/** What a plugin route's handler is given of the request: validated values only, never the Hono context. */
export interface PluginRequest {
  query: Record<string, unknown>;
  params: Record<string, string>;
  body: unknown;
  /** The full request URL (to build redirect URIs back to the same route). */
  url: string;
}

/**
 * A route of a plugin, mounted at `/v1/plugins/<id><path>` and listed in the OpenAPI document (tag Plugins).
 * `tenant`: a tenant credential holding `permission`, plan feature `plugins`. `public`: no credential (a browser
 * following a redirect); the tenant is the `tenant` query parameter. Either way the plugin must be enabled for the
 * tenant (else 403 PLUGIN_NOT_ENABLED), and the handler answers with a plain Response.
 */
export interface PluginRouteDefinition<C = unknown> {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** Relative to the plugin's prefix: `/authorize`, `/identities/{id}`. */
  path: string;
  summary: string;
  description?: string;
  access: { credential: "tenant"; permission: string } | { credential: "public" };
  query?: z.ZodObject;
  params?: z.ZodObject;
  body?: z.ZodType;
  responses: RouteConfig["responses"];
  handler: Handler<[request: PluginRequest, ctx: PluginContext<C>], Promise<Response>>;
}

export function pluginRoutePath(pluginId: string, path: string): string {
  return `/v1/plugins/${pluginId}${path}`;
}

const TenantQuery = z
  .string()
  .regex(/^ten_[0-9A-HJKMNP-TV-Z]{26}$/, "A tenant id.")
  .openapi({ description: "The tenant whose configuration of the plugin serves this request." });

function notEnabled(pluginId: string): ApiError {
  return new ApiError(PluginErrors.PLUGIN_NOT_ENABLED, {
    detail: `The plugin ${pluginId} is not enabled for this tenant (PUT /v1/plugins/${pluginId}).`,
  });
}

type Valid = (target: "query" | "param" | "json") => unknown;

async function tenantContext(
  c: Context<AppEnv>,
  plugin: AnyPlugin,
  publicTenant: string | undefined,
): Promise<ServiceContext & { tenant: TenantRef }> {
  if (publicTenant === undefined) {
    const ctx = await serviceContext(c);
    if (!ctx.tenant) throw notEnabled(plugin.id);
    return { ...ctx, tenant: ctx.tenant };
  }
  const tenant = await tenantById(c.env, publicTenant);
  // an unknown tenant answers like a tenant without the plugin: no existence oracle on a public route
  if (!tenant || !planIncludes(tenant.plan, "plugins")) throw notEnabled(plugin.id);
  const info = requestInfo(c);
  return systemContext(c.env, tenant, {
    actorId: `plugin:${plugin.id}`,
    requestId: info.requestId,
    ip: info.ip,
    userAgent: info.userAgent,
    waitUntil: waitUntilOf(c),
  });
}

function mountRoute(app: OpenAPIHono<AppEnv>, plugin: AnyPlugin, route: PluginRouteDefinition): void {
  const isPublic = route.access.credential === "public";
  const query = isPublic ? (route.query ?? z.object({})).extend({ tenant: TenantQuery }) : route.query;
  const request = {
    ...(query ? { query } : {}),
    ...(route.params ? { params: route.params } : {}),
    ...(route.body ? { body: { required: true, content: { "application/json": { schema: route.body } } } } : {}),
  };
  const definition = defineRoute({
    method: route.method,
    path: pluginRoutePath(plugin.id, route.path),
    tags: ["Plugins"],
    summary: `${plugin.id}: ${route.summary}`,
    ...(route.description ? { description: route.description } : {}),
    credential: route.access.credential === "tenant" ? ["tenant"] : "none",
    ...(route.access.credential === "tenant"
      ? { permission: route.access.permission as Permission, feature: "plugins" as const }
      : {}),
    errors: [403],
    request,
    responses: route.responses,
  });
  app.openapi(definition, async (c) => {
    const valid = c.req.valid.bind(c.req) as unknown as Valid;
    const queryValues = (query ? valid("query") : {}) as Record<string, unknown>;
    const base = await tenantContext(c, plugin, isPublic ? String(queryValues.tenant) : undefined);
    const settings = await findSettings(base.db, plugin.id);
    if (settings?.enabled !== 1) throw notEnabled(plugin.id);
    const ctx = await pluginContext(base, plugin, settings);
    return route.handler(
      {
        query: queryValues,
        params: (route.params ? valid("param") : {}) as Record<string, string>,
        body: route.body ? valid("json") : undefined,
        url: c.req.url,
      },
      ctx,
    );
  });
}

/** Mounts every plugin's routes on the app (they join its OpenAPI document and its route table). */
export function mountPluginRoutes(app: OpenAPIHono<AppEnv>, registry: PluginRegistry): void {
  for (const plugin of registry.plugins) for (const route of plugin.routes ?? []) mountRoute(app, plugin, route);
}
