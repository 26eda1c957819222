import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { apiKeyIndex } from "../../core/db/control-schema";
import { toStatement } from "../../core/db/statements";
import { apiKeySecrets, apiKeys } from "../../core/db/tenant-schema";

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ApiKeySecretRow = typeof apiKeySecrets.$inferSelect;

/** A key with the masked tail of its current secret (the one without `retires_at`). */
export type ApiKeyView = Omit<ApiKeyRow, "rateLimit"> & { tail: string | null };

function views(db: D1Database) {
  return drizzle(db)
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      roles: apiKeys.roles,
      createdAt: apiKeys.createdAt,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      version: apiKeys.version,
      apiVersion: apiKeys.apiVersion,
      tail: apiKeySecrets.tail,
    })
    .from(apiKeys)
    .leftJoin(apiKeySecrets, and(eq(apiKeySecrets.keyId, apiKeys.id), isNull(apiKeySecrets.retiresAt)));
}

export function findApiKey(db: D1Database, id: string): Promise<ApiKeyView | undefined> {
  return views(db).where(eq(apiKeys.id, id)).get();
}

/** The key and every secret it has had, read together (one round trip, one consistent view). */
export async function findApiKeyWithSecrets(
  db: D1Database,
  id: string,
): Promise<{ key: ApiKeyView; secrets: ApiKeySecretRow[] } | undefined> {
  const orm = drizzle(db);
  const [keys, secrets] = await orm.batch([
    views(db).where(eq(apiKeys.id, id)),
    orm.select().from(apiKeySecrets).where(eq(apiKeySecrets.keyId, id)),
  ]);
  const key = keys[0];
  return key ? { key, secrets } : undefined;
}

/** Oldest first, keyset-paged on (created_at, id). */
export function listApiKeys(db: D1Database, after: { createdAt: string; id: string } | null, limit: number) {
  return views(db)
    .where(
      after
        ? or(
            gt(apiKeys.createdAt, after.createdAt),
            and(eq(apiKeys.createdAt, after.createdAt), gt(apiKeys.id, after.id)),
          )
        : undefined,
    )
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
    .limit(limit);
}

/** The ids of the keys not yet revoked (to revoke their Durable Objects when the tenant goes). */
export async function liveApiKeyIds(db: D1Database): Promise<string[]> {
  const rows = await drizzle(db).select({ id: apiKeys.id }).from(apiKeys).where(isNull(apiKeys.revokedAt));
  return rows.map((row) => row.id);
}

export function insertApiKey(db: D1Database, row: typeof apiKeys.$inferInsert) {
  return toStatement(db, drizzle(db).insert(apiKeys).values(row));
}

export function insertApiKeySecret(db: D1Database, row: typeof apiKeySecrets.$inferInsert) {
  return toStatement(db, drizzle(db).insert(apiKeySecrets).values(row));
}

/** Claims the key's next version, only from `version` and only while it is not revoked (guards a rotation). */
export function claimVersion(db: D1Database, id: string, version: number) {
  return db
    .prepare("UPDATE api_keys SET version = version + 1 WHERE id = ? AND version = ? AND revoked_at IS NULL")
    .bind(id, version);
}

/** Every secret of the key that would work past `notAfter` stops then (an earlier end is kept). */
export function retireSecrets(db: D1Database, keyId: string, notAfter: string) {
  return db
    .prepare("UPDATE api_key_secrets SET retires_at = ?2 WHERE key_id = ?1 AND (retires_at IS NULL OR retires_at > ?2)")
    .bind(keyId, notAfter);
}

/** Revokes the key once (at `version`, when given). */
export function revokeApiKey(db: D1Database, id: string, at: string, version?: number) {
  return db
    .prepare(
      `UPDATE api_keys SET revoked_at = ?2, version = version + 1
       WHERE id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR version = ?3)`,
    )
    .bind(id, at, version ?? null);
}

// The control database's index: secret hash → (key, tenant).

export function insertIndexEntry(control: D1Database, row: typeof apiKeyIndex.$inferInsert) {
  return toStatement(control, drizzle(control).insert(apiKeyIndex).values(row));
}

export function deleteIndexEntry(control: D1Database, secretHash: string) {
  return toStatement(control, drizzle(control).delete(apiKeyIndex).where(eq(apiKeyIndex.secretHash, secretHash)));
}
