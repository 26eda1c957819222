import { controlDb, tenantDatabases } from "../../core/db/databases";
import { rotateSigningKeysIfDue } from "./signing-keys";

/**
 * Daily: rotate the signing key when it is due, and forget refresh tokens whose family has ended (they can
 * no longer be used nor reused, so they decide nothing) and expired authorization codes. One tenant's failure does not stop the others.
 */
export async function oauthDailyMaintenance(env: Env): Promise<void> {
  const failures: unknown[] = [];
  await rotateSigningKeysIfDue(env).catch((error: unknown) => failures.push(error));
  const control = await controlDb(env);
  const { results } = await control
    .prepare("SELECT database_binding FROM tenants ORDER BY id")
    .all<{ database_binding: string }>();
  const now = new Date().toISOString();
  for (const { database_binding } of results) {
    try {
      const db = await tenantDatabases.forTenant(env, { databaseBinding: database_binding });
      await db.batch([
        db.prepare("DELETE FROM refresh_tokens WHERE expires_at <= ?").bind(now),
        db.prepare("DELETE FROM oauth_authorization_codes WHERE expires_at <= ?").bind(now),
      ]);
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `OAuth maintenance failed ${failures.length} time(s)`);
}
