import { z } from "@hono/zod-openapi";
import { auditStatement } from "../../modules/audit/audit.service";
import type { ServiceContext } from "../context";
import { ApiError } from "../errors";
import type { Json } from "../http/merge-patch";
import { fieldErrors, validationError } from "../http/validation";
import { pluginRegistry } from "./active";
import type { AnyPlugin, HookOperation } from "./define";
import { PluginErrors } from "./errors";
import { pluginRoutePath } from "./routes";
import { findSettings, listSettings, openSecrets, type PluginSettingsRow, sealSecrets, splitSecrets } from "./settings";

/** A plugin as GET /v1/plugins shows it: what it is, and whether this tenant enabled it (its secrets never shown). */
export interface PluginView {
  id: string;
  version: string;
  description: string;
  permissions: { permission: string; description: string }[];
  routes: string[];
  hooks: string[];
  events: string[];
  configSchema: Record<string, unknown>;
  secrets: string[];
  enabled: boolean;
  config: Record<string, Json> | null;
  secretsSet: string[];
  updatedAt: string | null;
}

function pluginOf(id: string): AnyPlugin {
  const plugin = pluginRegistry().get(id);
  if (!plugin) throw new ApiError(PluginErrors.PLUGIN_NOT_FOUND, { detail: `No plugin ${id} (GET /v1/plugins).` });
  return plugin;
}

function view(plugin: AnyPlugin, row: PluginSettingsRow | undefined, secretsSet: string[]): PluginView {
  const hooks = Object.entries(plugin.hooks ?? {}).flatMap(([operation, phases]) =>
    Object.keys(phases ?? {}).map((phase) => `${operation as HookOperation}.${phase}`),
  );
  return {
    id: plugin.id,
    version: plugin.version,
    description: plugin.description,
    permissions: Object.entries(plugin.permissions ?? {}).map(([permission, description]) => ({
      permission,
      description,
    })),
    routes: (plugin.routes ?? []).map((r) => `${r.method.toUpperCase()} ${pluginRoutePath(plugin.id, r.path)}`),
    hooks,
    events: Object.keys(plugin.events ?? {}),
    configSchema: z.toJSONSchema(plugin.config.schema, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >,
    secrets: [...(plugin.config.secrets ?? [])],
    enabled: row?.enabled === 1,
    config: row ? (JSON.parse(row.config) as Record<string, Json>) : null,
    secretsSet,
    updatedAt: row?.updated_at ?? null,
  };
}

async function secretNames(ctx: ServiceContext, row: PluginSettingsRow | undefined): Promise<string[]> {
  return row && ctx.tenant ? Object.keys(await openSecrets(ctx.env, ctx.tenant.id, row)) : [];
}

export async function listPlugins(ctx: ServiceContext): Promise<PluginView[]> {
  const rows = await listSettings(ctx.db);
  return Promise.all(
    pluginRegistry().plugins.map(async (plugin) => {
      const row = rows.find((r) => r.plugin_id === plugin.id);
      return view(plugin, row, await secretNames(ctx, row));
    }),
  );
}

/**
 * Enables (or configures) a plugin for the tenant. The configuration is validated by the plugin's schema (400 with
 * one error per field); its secret members are sealed, and one left out keeps its current value.
 */
export async function putPlugin(
  ctx: ServiceContext & { tenant: { id: string } },
  id: string,
  body: { enabled: boolean; config: Record<string, Json> },
): Promise<PluginView> {
  const plugin = pluginOf(id);
  const current = (await findSettings(ctx.db, id)) ?? undefined;
  const kept = current ? await openSecrets(ctx.env, ctx.tenant.id, current) : {};
  const merged = { ...kept, ...body.config };
  const parsed = plugin.config.schema.safeParse(merged);
  if (!parsed.success) throw validationError(fieldErrors(parsed.error.issues, ["config"]), "configuration");
  const { plain, secrets } = splitSecrets(plugin, merged);
  const at = new Date().toISOString();
  const sealed = Object.keys(secrets).length > 0 ? await sealSecrets(ctx.env, ctx.tenant.id, id, secrets) : null;
  const enabled = body.enabled ? 1 : 0;
  await ctx.db.batch([
    ctx.db
      .prepare(
        `INSERT INTO plugin_settings (plugin_id, enabled, config, secrets_sealed, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)
         ON CONFLICT (plugin_id) DO UPDATE SET enabled = ?2, config = ?3, secrets_sealed = ?4,
           version = version + 1, updated_at = ?5`,
      )
      .bind(id, enabled, JSON.stringify(plain), sealed, at),
    await auditStatement(
      ctx,
      {
        action: body.enabled ? "plugin.enabled" : "plugin.configured",
        resource: { type: "plugin", id },
        // names only: a configuration may hold personal data or secrets
        changes: {
          enabled: { from: current ? current.enabled === 1 : null, to: body.enabled },
          config: { from: null, to: Object.keys(merged).sort().join(",") },
        },
      },
      { at },
    ),
  ]);
  const row = await findSettings(ctx.db, id);
  return view(plugin, row ?? undefined, Object.keys(secrets));
}

/** Disables a plugin for the tenant: its routes answer 403 PLUGIN_NOT_ENABLED and its hooks stop; its config stays. */
export async function disablePlugin(ctx: ServiceContext, id: string): Promise<void> {
  pluginOf(id);
  const at = new Date().toISOString();
  await ctx.db.batch([
    ctx.db
      .prepare(
        "UPDATE plugin_settings SET enabled = 0, version = version + 1, updated_at = ? WHERE plugin_id = ? AND enabled = 1",
      )
      .bind(at, id),
    await auditStatement(
      ctx,
      { action: "plugin.disabled", resource: { type: "plugin", id }, changes: { enabled: { from: true, to: false } } },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
}
