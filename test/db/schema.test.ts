import { env } from "cloudflare:test";
import { is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as controlSchema from "../../src/core/db/control-schema";
import * as sharedSchema from "../../src/core/db/shared-schema";
import * as tenantSchema from "../../src/core/db/tenant-schema";
import { ADMIN_TOKEN, call, createTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

/**
 * The drizzle schema (what the code queries) against the SQL migrations (what the database has): every table
 * drizzle declares exists with exactly its columns, types, nullability and primary key, and every index
 * drizzle declares exists. Tables only the SQL has (bookkeeping, FTS) are listed on purpose.
 */

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  pk: number;
}

/** Tables that live in SQL only, on purpose. */
const SQL_ONLY = new Set(["_schema_migrations", "_batch_assertions", "_schema_guard"]);

function tablesOf(...modules: Record<string, unknown>[]): SQLiteTable[] {
  return modules.flatMap((m) => Object.values(m).filter((v): v is SQLiteTable => is(v, SQLiteTable)));
}

async function columnsOf(db: D1Database, table: string): Promise<ColumnInfo[]> {
  const { results } = await db.prepare(`PRAGMA table_info("${table}")`).all<ColumnInfo>();
  return results;
}

async function indexesOf(db: D1Database, table: string): Promise<string[]> {
  const { results } = await db.prepare(`PRAGMA index_list("${table}")`).all<{ name: string; origin: string }>();
  return results.filter((i) => i.origin === "c").map((i) => i.name);
}

/** The differences between the drizzle tables and the database, one line each (empty when they agree). */
async function differences(db: D1Database, tables: SQLiteTable[]): Promise<string[]> {
  const problems: string[] = [];
  for (const table of tables) {
    const config = getTableConfig(table);
    const actual = await columnsOf(db, config.name);
    if (actual.length === 0) {
      problems.push(`${config.name}: table missing from the migrated database`);
      continue;
    }
    const declared = new Map(config.columns.map((c) => [c.name, c]));
    // a composite key (`primaryKey({columns})`) marks none of its columns `primary` in drizzle
    const compositeKey = new Set(config.primaryKeys.flatMap((key) => key.columns.map((c) => c.name)));
    for (const column of actual) {
      const mirror = declared.get(column.name);
      if (!mirror) {
        problems.push(`${config.name}.${column.name}: in SQL, not in drizzle`);
        continue;
      }
      declared.delete(column.name);
      const where = `${config.name}.${column.name}`;
      if (mirror.getSQLType().toUpperCase() !== column.type.toUpperCase()) {
        problems.push(`${where}: drizzle ${mirror.getSQLType()}, SQL ${column.type}`);
      }
      if ((mirror.primary || compositeKey.has(column.name)) !== column.pk > 0) {
        problems.push(`${where}: primary key differs`);
      }
      // SQLite does not record NOT NULL on a TEXT PRIMARY KEY; drizzle implies it.
      if (!mirror.primary && mirror.notNull !== (column.notnull === 1)) {
        problems.push(`${where}: drizzle notNull=${mirror.notNull}, SQL notnull=${column.notnull}`);
      }
    }
    for (const name of declared.keys()) problems.push(`${config.name}.${name}: in drizzle, not in SQL`);
    const indexes = await indexesOf(db, config.name);
    for (const index of config.indexes) {
      if (!indexes.includes(index.config.name)) problems.push(`${config.name}: index ${index.config.name} missing`);
    }
  }
  return problems;
}

/** Tables in the database with no drizzle mirror, other than the SQL-only ones and FTS tables. */
async function unmirrored(db: D1Database, tables: SQLiteTable[]): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    )
    .all<{ name: string; sql: string | null }>();
  const virtual = results.filter((t) => /^CREATE VIRTUAL TABLE/i.test(t.sql ?? "")).map((t) => t.name);
  const mirrored = new Set(tables.map((t) => getTableConfig(t).name));
  return results
    .map((t) => t.name)
    .filter((name) => !mirrored.has(name) && !SQL_ONLY.has(name))
    .filter((name) => !virtual.some((v) => name === v || name.startsWith(`${v}_`)));
}

describe("drizzle schema vs SQL migrations", () => {
  it("finds drizzle tables in every schema module (the check is not vacuous)", () => {
    const names = (tables: SQLiteTable[]) => tables.map((t) => getTableConfig(t).name).sort();
    expect(names(tablesOf(controlSchema))).toEqual(expect.arrayContaining(["tenant_databases", "tenants"]));
    expect(names(tablesOf(sharedSchema))).toEqual(["audit_events", "idempotency_keys"]);
    expect(names(tablesOf(tenantSchema))).toEqual(expect.arrayContaining(["outbox_events", "user_totp", "users"]));
  });

  it("the control database has exactly the columns of control-schema.ts and shared-schema.ts", async () => {
    expect((await call("GET", "/v1/tenants", { token: ADMIN_TOKEN })).status).toBe(200);
    const tables = tablesOf(controlSchema, sharedSchema);
    expect(await differences(env.CONTROL_DB, tables)).toEqual([]);
    expect(await unmirrored(env.CONTROL_DB, tables)).toEqual([]);
  });

  it("a tenant database has exactly the columns of tenant-schema.ts and shared-schema.ts", async () => {
    const tenant = await createTenant({ name: "Schema check" });
    const db = await tenantDatabase(tenant.id);
    const tables = tablesOf(tenantSchema, sharedSchema);
    expect(await differences(db, tables)).toEqual([]);
    expect(await unmirrored(db, tables)).toEqual([]);
  });

  it("the comparison notices a drift (a column the drizzle schema does not know)", async () => {
    const tenant = await createTenant({ name: "Drifted" });
    const db = await tenantDatabase(tenant.id);
    await db.prepare("ALTER TABLE users ADD COLUMN nickname TEXT").run();
    await db.prepare("CREATE TABLE stray (id TEXT)").run();
    const tables = tablesOf(tenantSchema, sharedSchema);
    expect(await differences(db, tables)).toEqual(["users.nickname: in SQL, not in drizzle"]);
    expect(await unmirrored(db, tables)).toEqual(["stray"]);
  });
});
