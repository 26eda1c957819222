import { open, seal } from "../crypto/sealed-box";
import type { Json } from "../http/merge-patch";
import type { AnyPlugin } from "./define";

/** A plugin's per-tenant state, as `plugin_settings` holds it (migrations/tenant/0017_plugins_actions.sql). */
export interface PluginSettingsRow {
  plugin_id: string;
  enabled: number;
  config: string;
  secrets_sealed: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

const CONFIG_PURPOSE = "uom/plugin-config/v1";

export async function findSettings(db: D1Database, pluginId: string): Promise<PluginSettingsRow | null> {
  return db.prepare("SELECT * FROM plugin_settings WHERE plugin_id = ?").bind(pluginId).first<PluginSettingsRow>();
}

export async function listSettings(db: D1Database): Promise<PluginSettingsRow[]> {
  return (await db.prepare("SELECT * FROM plugin_settings ORDER BY plugin_id").all<PluginSettingsRow>()).results;
}

/** The enabled plugins among `ids` (one indexed query). */
export async function enabledSettings(db: D1Database, ids: readonly string[]): Promise<PluginSettingsRow[]> {
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare("SELECT * FROM plugin_settings WHERE enabled = 1 AND plugin_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(ids))
    .all<PluginSettingsRow>();
  return results;
}

/** The secret members of a configuration, sealed together under MASTER_KEY and bound to the tenant and plugin. */
export function sealSecrets(env: Env, tenantId: string, pluginId: string, secrets: Record<string, Json>) {
  return seal(env.MASTER_KEY, CONFIG_PURPOSE, `${tenantId}:${pluginId}`, JSON.stringify(secrets));
}

async function openSecrets(env: Env, tenantId: string, row: PluginSettingsRow): Promise<Record<string, Json>> {
  if (!row.secrets_sealed) return {};
  const text = await open(env.MASTER_KEY, CONFIG_PURPOSE, `${tenantId}:${row.plugin_id}`, row.secrets_sealed);
  return JSON.parse(text) as Record<string, Json>;
}

/** The whole configuration, secrets opened: what the plugin's handlers get as `ctx.config`. */
export async function openConfig(env: Env, tenantId: string, row: PluginSettingsRow): Promise<Record<string, Json>> {
  return { ...(JSON.parse(row.config) as Record<string, Json>), ...(await openSecrets(env, tenantId, row)) };
}

/** Splits a configuration into what is stored in plaintext and the secret members. */
export function splitSecrets(plugin: AnyPlugin, config: Record<string, Json>) {
  const names = new Set(plugin.config.secrets ?? []);
  const plain: Record<string, Json> = {};
  const secrets: Record<string, Json> = {};
  for (const [key, value] of Object.entries(config)) (names.has(key) ? secrets : plain)[key] = value;
  return { plain, secrets };
}

export { openSecrets };
