import type { PluginMigration } from "./define";

/**
 * A plugin's own tables, and nothing else: the plugin names a table (`identities`), the store prefixes it
 * (`plugin_oidc_login_identities`) and writes the SQL itself from column names checked against a strict pattern, with
 * every value bound. A plugin has no way to name another table, so no way to read users' password hashes or another
 * plugin's rows.
 */

export type SqlValue = string | number | null;
export type Row = Record<string, SqlValue>;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

export interface PluginTable {
  insert(row: Row): Promise<void>;
  /** INSERT … ON CONFLICT DO NOTHING; whether the row was inserted. */
  insertIfAbsent(row: Row): Promise<boolean>;
  get(where: Row): Promise<Row | null>;
  list(where: Row, options?: { limit?: number; orderBy?: string; descending?: boolean }): Promise<Row[]>;
  update(where: Row, set: Row): Promise<number>;
  /** Deletes the matching rows and returns them (so a one-time value is taken exactly once). */
  take(where: Row): Promise<Row[]>;
}

export interface PluginStore {
  table(name: string): PluginTable;
}

/** `oidc-login` → `plugin_oidc_login_`: the prefix of every table and index of the plugin. */
export function tablePrefix(pluginId: string): string {
  return `plugin_${pluginId.replaceAll("-", "_")}_`;
}

function checkedName(name: string, what: string): string {
  if (!NAME.test(name)) throw new Error(`plugin store: '${name}' is not a valid ${what} name`);
  return name;
}

function whereClause(where: Row, offset = 0): { sql: string; values: SqlValue[] } {
  const keys = Object.keys(where).map((k) => checkedName(k, "column"));
  if (keys.length === 0) return { sql: "1 = 1", values: [] };
  return {
    sql: keys.map((k, i) => `"${k}" IS ?${offset + i + 1}`).join(" AND "),
    values: keys.map((k) => where[k] ?? null),
  };
}

export function pluginStore(db: D1Database, pluginId: string, ready: () => Promise<void>): PluginStore {
  const prefix = tablePrefix(pluginId);
  return {
    table(name) {
      const table = `"${prefix}${checkedName(name, "table")}"`;
      const insertSql = (row: Row, suffix: string) => {
        const keys = Object.keys(row).map((k) => checkedName(k, "column"));
        const sql = `INSERT INTO ${table} (${keys.map((k) => `"${k}"`).join(", ")}) VALUES (${keys.map((_, i) => `?${i + 1}`).join(", ")})${suffix}`;
        return db.prepare(sql).bind(...keys.map((k) => row[k] ?? null));
      };
      return {
        async insert(row) {
          await ready();
          await insertSql(row, "").run();
        },
        async insertIfAbsent(row) {
          await ready();
          const result = await insertSql(row, " ON CONFLICT DO NOTHING").run();
          return result.meta.changes > 0;
        },
        async get(where) {
          await ready();
          const w = whereClause(where);
          return (
            (await db
              .prepare(`SELECT * FROM ${table} WHERE ${w.sql} LIMIT 1`)
              .bind(...w.values)
              .first<Row>()) ?? null
          );
        },
        async list(where, options = {}) {
          await ready();
          const w = whereClause(where);
          const order = options.orderBy
            ? ` ORDER BY "${checkedName(options.orderBy, "column")}"${options.descending ? " DESC" : ""}`
            : "";
          const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
          const { results } = await db
            .prepare(`SELECT * FROM ${table} WHERE ${w.sql}${order} LIMIT ${limit}`)
            .bind(...w.values)
            .all<Row>();
          return results;
        },
        async update(where, set) {
          await ready();
          const keys = Object.keys(set).map((k) => checkedName(k, "column"));
          if (keys.length === 0) return 0;
          const assignments = keys.map((k, i) => `"${k}" = ?${i + 1}`).join(", ");
          const w = whereClause(where, keys.length);
          const result = await db
            .prepare(`UPDATE ${table} SET ${assignments} WHERE ${w.sql}`)
            .bind(...keys.map((k) => set[k] ?? null), ...w.values)
            .run();
          return result.meta.changes;
        },
        async take(where) {
          await ready();
          const w = whereClause(where);
          const { results } = await db
            .prepare(`DELETE FROM ${table} WHERE ${w.sql} RETURNING *`)
            .bind(...w.values)
            .all<Row>();
          return results;
        },
      };
    },
  };
}

const STATEMENT =
  /^\s*(?:CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?|CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)"?\s+ON\s+"?(\w+)"?|ALTER\s+TABLE\s+"?(\w+)"?\s+ADD\s+COLUMN)\b/i;

/**
 * What is wrong with a plugin's schema, if anything: each statement must create (or add a column to) a table or index
 * of the plugin's own prefix, reference only its own tables, and be a single statement.
 */
export function schemaProblems(pluginId: string, migrations: readonly PluginMigration[]): string[] {
  const prefix = tablePrefix(pluginId);
  const problems: string[] = [];
  let last = 0;
  for (const migration of migrations) {
    if (!Number.isInteger(migration.version) || migration.version <= last) {
      problems.push(`schema versions must be increasing integers (${migration.version} after ${last})`);
    }
    last = migration.version;
    for (const statement of migration.statements) {
      const match = STATEMENT.exec(statement);
      const names = match ? match.slice(1).filter((n): n is string => n !== undefined) : [];
      const references = [...statement.matchAll(/\bREFERENCES\s+"?(\w+)"?/gi)].map((m) => m[1] as string);
      if (!match)
        problems.push(`not a CREATE TABLE, CREATE INDEX or ALTER TABLE … ADD COLUMN: ${statement.slice(0, 60)}`);
      else if (statement.trim().replace(/;$/, "").includes(";")) problems.push("one statement per entry");
      for (const name of [...names, ...references]) {
        if (!name.startsWith(prefix)) problems.push(`'${name}' is outside the plugin's tables (${prefix}*)`);
      }
    }
  }
  return problems;
}

/**
 * Applies a plugin's migrations to a tenant database, once: each in one batch whose first statement claims its
 * version in `_plugin_migrations` (a racing isolate's batch fails on the key and rolls back whole, as in migrate.ts).
 */
export async function migratePlugin(
  db: D1Database,
  pluginId: string,
  migrations: readonly PluginMigration[],
): Promise<void> {
  const row = await db
    .prepare("SELECT coalesce(max(version), 0) AS version FROM _plugin_migrations WHERE plugin_id = ?")
    .bind(pluginId)
    .first<{ version: number }>();
  for (const migration of migrations) {
    if (migration.version <= (row?.version ?? 0)) continue;
    const claim = db
      .prepare("INSERT INTO _plugin_migrations (plugin_id, version, applied_at) VALUES (?, ?, ?)")
      .bind(pluginId, migration.version, new Date().toISOString());
    try {
      await db.batch([claim, ...migration.statements.map((sql) => db.prepare(sql))]);
    } catch (error) {
      if (!(error instanceof Error && /UNIQUE constraint failed: _plugin_migrations/.test(error.message))) throw error;
    }
  }
}

/**
 * Per isolate: which (database, tenant, plugin) are current — the tenant too, since a freed database is erased and
 * given to another tenant. A failure is forgotten and retried.
 */
const applied = new Map<string, Promise<void>>();

export function ensurePluginSchema(
  database: { binding: string; tenantId: string },
  db: D1Database,
  pluginId: string,
  migrations: readonly PluginMigration[],
): Promise<void> {
  if (migrations.length === 0) return Promise.resolve();
  const key = `${database.binding}\u0000${database.tenantId}\u0000${pluginId}`;
  let pending = applied.get(key);
  if (!pending) {
    pending = migratePlugin(db, pluginId, migrations);
    pending.catch(() => applied.delete(key));
    applied.set(key, pending);
  }
  return pending;
}
