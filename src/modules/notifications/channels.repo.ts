import { open, seal } from "../../core/crypto/sealed-box";

/** The `notification_config` table: one row per channel (`email`, `sms`, `push`) and one for `settings`. */
export type ConfigName = "email" | "sms" | "push" | "settings";

const PURPOSE = "uom/notification-credentials/v1";

export interface StoredConfig {
  config: Record<string, unknown>;
  /** Credentials, still sealed. */
  secretSealed: string | null;
  updatedAt: string;
}

export async function readConfigs(db: D1Database): Promise<Map<ConfigName, StoredConfig>> {
  const { results } = await db
    .prepare("SELECT name, config, secret_sealed, updated_at FROM notification_config")
    .all<{ name: ConfigName; config: string; secret_sealed: string | null; updated_at: string }>();
  return new Map(
    results.map((row) => [
      row.name,
      { config: JSON.parse(row.config), secretSealed: row.secret_sealed, updatedAt: row.updated_at },
    ]),
  );
}

export function upsertConfig(
  db: D1Database,
  name: ConfigName,
  config: Record<string, unknown>,
  secretSealed: string | null,
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO notification_config (name, config, secret_sealed, updated_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (name) DO UPDATE SET config = ?2, secret_sealed = ?3, updated_at = ?4`,
    )
    .bind(name, JSON.stringify(config), secretSealed, at);
}

export function deleteConfig(db: D1Database, name: ConfigName): D1PreparedStatement {
  return db.prepare("DELETE FROM notification_config WHERE name = ?").bind(name);
}

/** Credentials are sealed under MASTER_KEY, bound to the tenant and the channel (a copy elsewhere does not open). */
export function sealCredentials(env: Env, tenantId: string, name: ConfigName, secret: Record<string, string>) {
  return seal(env.MASTER_KEY, PURPOSE, `${tenantId}/${name}`, JSON.stringify(secret));
}

export async function openCredentials(
  env: Env,
  tenantId: string,
  name: ConfigName,
  sealed: string | null,
): Promise<Record<string, string>> {
  if (!sealed) return {};
  return JSON.parse(await open(env.MASTER_KEY, PURPOSE, `${tenantId}/${name}`, sealed)) as Record<string, string>;
}
