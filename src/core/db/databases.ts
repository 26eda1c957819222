import { MigrationGate } from "./migrate";
import { controlMigrations, tenantMigrations } from "./migrations";

const controlGate = new MigrationGate(controlMigrations);
const tenantGate = new MigrationGate(tenantMigrations);
let poolSynced: Promise<void> | undefined;

const POOL_BINDING = /^TENANT_DB_\d+$/;

/** The tenant database bindings this deployment declares (wrangler.toml `TENANT_DB_<n>`). */
export function poolBindings(env: Env): string[] {
  return Object.keys(env)
    .filter((name) => POOL_BINDING.test(name))
    .sort((a, b) => Number(a.slice(10)) - Number(b.slice(10)));
}

/** The control database, migrated, with every declared pool database registered in it. */
export async function controlDb(env: Env): Promise<D1Database> {
  await controlGate.ensure("CONTROL_DB", env.CONTROL_DB);
  poolSynced ??= registerPool(env).catch((error: unknown) => {
    poolSynced = undefined;
    throw error;
  });
  await poolSynced;
  return env.CONTROL_DB;
}

async function registerPool(env: Env): Promise<void> {
  const insert = env.CONTROL_DB.prepare("INSERT OR IGNORE INTO tenant_databases (binding) VALUES (?)");
  await env.CONTROL_DB.batch(poolBindings(env).map((binding) => insert.bind(binding)));
}

function bindingOf(env: Env, binding: string): D1Database {
  if (!POOL_BINDING.test(binding)) throw new Error(`not a tenant database binding: ${binding}`);
  const db = (env as unknown as Record<string, D1Database | undefined>)[binding];
  if (!db) throw new Error(`tenant database ${binding} is not bound in this deployment`);
  return db;
}

/**
 * The port every feature reaches tenant data through: a tenant's own D1 database, migrated to the current
 * version. Today the provider is the pool of declared D1 bindings; another provider (SQLite in a Durable
 * Object per tenant) can stand behind the same function.
 */
export const tenantDatabases = {
  async forTenant(env: Env, tenant: { databaseBinding: string }): Promise<D1Database> {
    const db = bindingOf(env, tenant.databaseBinding);
    await tenantGate.ensure(tenant.databaseBinding, db);
    return db;
  },

  /** Migrates a freshly claimed database (the gate is reset first: the database may have been erased). */
  async prepare(env: Env, binding: string): Promise<D1Database> {
    tenantGate.forget(binding);
    return this.forTenant(env, { databaseBinding: binding });
  },

  /** Drops every table, index and trigger: the database is left empty, ready for the next tenant. */
  async erase(env: Env, binding: string): Promise<void> {
    const db = bindingOf(env, binding);
    tenantGate.forget(binding);
    const { results } = await db
      .prepare(
        // `_` is a LIKE wildcard: escape it, or a table such as "xcfy" would be skipped and survive the erase.
        // Shadow tables (an FTS5 table's `_data`, `_idx`, …) may not be dropped by hand: their virtual table's
        // DROP takes them along.
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
      )
      .all<{ name: string }>();
    if (results.length === 0) return;
    const drops = results.map(({ name }) => db.prepare(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`));
    await db.batch([db.prepare("PRAGMA defer_foreign_keys = on"), ...drops]);
  },
};
