import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { compileFilter, type FilterCatalogue } from "../../src/modules/search/filter.compiler";
import { FilterCompileError } from "../../src/modules/search/filter.errors";
import { type FilterNode, parseFilter } from "../../src/modules/search/filter.parser";

const db = env.TENANT_DB_32;
const NOW = Date.UTC(2026, 0, 1);
const TABLE = "scratch_filter_users";

const catalogue: FilterCatalogue = {
  status: { column: "u.status", type: "string", filterable: true },
  name: { column: "u.name", type: "string", filterable: true },
  username: { column: "u.username", type: "string", filterable: true, caseExact: true },
  "attributes.department": {
    column: "json_extract(u.attributes, '$.department')",
    type: "string",
    filterable: true,
  },
  "attributes.level": { column: "json_extract(u.attributes, '$.level')", type: "number", filterable: true },
  "attributes.vip": { column: "json_extract(u.attributes, '$.vip')", type: "boolean", filterable: true },
  roles: { column: "u.roles", type: "stringArray", filterable: true },
  createdat: { column: "u.created_at", type: "datetime", filterable: true },
  lastloginat: { column: "u.last_login_at", type: "datetime", filterable: true },
  mfa: { column: "u.mfa", type: "boolean", filterable: true },
  passwordhash: { column: "u.password_hash", type: "string", filterable: false },
};

const rows = [
  [
    "u1",
    "active",
    "Alice Smith",
    "alice",
    { department: "Sales", level: 3, vip: true },
    ["admin", "billing"],
    "2025-12-20T10:00:00.000Z",
    "2025-12-31T08:00:00.000Z",
    1,
  ],
  [
    "u2",
    "disabled",
    "bob jones",
    null,
    { department: "ops", level: 7 },
    ["viewer"],
    "2025-06-01T00:00:00.000Z",
    null,
    0,
  ],
  ["u3", "active", "", "Case", {}, [], "2025-12-31T23:00:00.000Z", null, 0],
  ["u4", "deleted", null, null, { department: "x') OR 1=1 --" }, ["Admin"], "2024-01-01T00:00:00.000Z", null, 0],
] as const;

beforeAll(async () => {
  await db.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, status TEXT, name TEXT, username TEXT, attributes TEXT NOT NULL, roles TEXT NOT NULL, created_at TEXT NOT NULL, last_login_at TEXT, mfa INTEGER NOT NULL, password_hash TEXT)`,
  );
  await db.exec(`DELETE FROM ${TABLE}`);
  const insert = db.prepare(
    `INSERT INTO ${TABLE} (id, status, name, username, attributes, roles, created_at, last_login_at, mfa) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  await db.batch(
    rows.map(([id, status, name, username, attributes, roles, createdAt, lastLoginAt, mfa]) =>
      insert.bind(
        id,
        status,
        name,
        username,
        JSON.stringify(attributes),
        JSON.stringify(roles),
        createdAt,
        lastLoginAt,
        mfa,
      ),
    ),
  );
});

async function select(filter: string): Promise<string[]> {
  const { sql, params } = compileFilter(parseFilter(filter), catalogue, { now: NOW });
  const result = await db
    .prepare(`SELECT id FROM ${TABLE} AS u WHERE ${sql} ORDER BY id`)
    .bind(...params)
    .all<{ id: string }>();
  return result.results.map((row) => row.id);
}

function compileError(filter: string | FilterNode, maxParams?: number): FilterCompileError {
  try {
    const node = typeof filter === "string" ? parseFilter(filter) : filter;
    compileFilter(node, catalogue, { now: NOW, maxParams });
  } catch (error) {
    if (error instanceof FilterCompileError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(filter)} to be rejected`);
}

describe("compileFilter against D1", () => {
  const cases: [string, string[]][] = [
    ['status eq "ACTIVE"', ["u1", "u3"]],
    ['STATUS Eq "active"', ["u1", "u3"]],
    ['status ne "active"', ["u2", "u4"]],
    ['name co "SMITH"', ["u1"]],
    ['name sw "bob"', ["u2"]],
    ['name ew "JONES"', ["u2"]],
    ['name ew ""', ["u1", "u2", "u3"]],
    ['name co "%"', []],
    ['name co "_"', []],
    ["name pr", ["u1", "u2"]],
    ["name eq null", ["u3", "u4"]],
    ["name ne null", ["u1", "u2"]],
    ["not (name pr)", ["u3", "u4"]],
    ['not (name co "smith")', ["u2", "u3", "u4"]],
    ['name gt "b"', ["u2"]],
    ['name le "ALICE SMITH"', ["u1", "u3"]],
    ['username eq "case"', []],
    ['username eq "Case"', ["u3"]],
    ['username sw "C"', ["u3"]],
    ['attributes.department eq "sales"', ["u1"]],
    ['Attributes.Department co "P"', ["u2"]],
    ["attributes.level ge 3 and attributes.level lt 7", ["u1"]],
    ["attributes.level gt 1", ["u1", "u2"]],
    ["attributes.level pr", ["u1", "u2"]],
    ["attributes.vip eq true", ["u1"]],
    ["attributes.vip eq false", []],
    ["attributes.vip ne true", ["u2", "u3", "u4"]],
    ["mfa eq true", ["u1"]],
    ["mfa eq false", ["u2", "u3", "u4"]],
    ['roles eq "admin"', ["u1", "u4"]],
    ['roles co "bill"', ["u1"]],
    ['roles sw "VIE"', ["u2"]],
    ['roles ew "min"', ["u1", "u4"]],
    ['roles ne "admin"', ["u2", "u3"]],
    ["roles pr", ["u1", "u2", "u4"]],
    ["not (roles pr)", ["u3"]],
    ['createdAt gt "now-30d"', ["u1", "u3"]],
    ['createdAt gt "now-2h"', ["u3"]],
    ['createdAt gt "NOW-90m"', ["u3"]],
    ['createdAt lt "now+1d"', ["u1", "u2", "u3", "u4"]],
    ['createdAt gt "now"', []],
    ['createdAt gt "now-30d" and roles eq "admin"', ["u1"]],
    ['createdAt lt "2025-01-01T00:00:00+01:00"', ["u4"]],
    ['createdAt ge "2025-12-31T23:00:00Z"', ["u3"]],
    ['createdAt eq "2025-06-01"', ["u2"]],
    ["lastLoginAt pr", ["u1"]],
    ['lastLoginAt lt "now-1d"', []],
    ['status eq "active" or status eq "disabled" and mfa eq true', ["u1", "u3"]],
    ['(status eq "active" or status eq "disabled") and mfa eq true', ["u1"]],
    ['not (status eq "active" or roles eq "viewer")', ["u4"]],
    ['not (not (status eq "deleted"))', ["u4"]],
  ];

  it.each(cases)("%s → %j", async (filter, ids) => {
    expect(await select(filter)).toEqual(ids);
  });
});

describe("compileFilter: injection", () => {
  const payloads = ["x') OR 1=1 --", "' OR '1'='1", '") OR 1=1; DROP TABLE users; --', "%' OR 1=1 --", "1; SELECT 1"];

  it.each(payloads)("binds %j and selects nothing", async (payload) => {
    for (const template of ["name eq ?", "name co ?", "name sw ?", "name ew ?", "roles eq ?", "createdAt gt ?"]) {
      const filter = template.replace("?", JSON.stringify(payload));
      let compiled: { sql: string; params: unknown[] } | undefined;
      try {
        compiled = compileFilter(parseFilter(filter), catalogue, { now: NOW });
      } catch (error) {
        expect(error).toBeInstanceOf(FilterCompileError); // datetimes refuse non-dates before any SQL
        continue;
      }
      expect(compiled.sql).not.toContain(payload);
      expect(compiled.params).toContain(payload);
      expect(await select(filter)).toEqual([]);
    }
  });

  it("matches a stored payload only as data", async () => {
    expect(await select('attributes.department eq "x\') OR 1=1 --"')).toEqual(["u4"]);
  });

  it("produces the same SQL text whatever the value (fast-check)", async () => {
    const shape = (value: string) =>
      compileFilter(parseFilter(`name co ${JSON.stringify(value)}`), catalogue, { now: NOW });
    const reference = shape("z").sql;
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 60 }), async (text) => {
        const value = `#${text}`;
        const compiled = shape(value);
        expect(compiled.sql).toBe(reference);
        expect(compiled.params).toEqual([value]);
        expect(await select(`name co ${JSON.stringify(value)} or roles eq ${JSON.stringify(value)}`)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("compileFilter: errors name the attribute", () => {
  const cases: [string, string, RegExp][] = [
    ["status gt true", "status", /expects a string/],
    ["mfa gt true", "mfa", /not supported on a boolean/],
    ['mfa eq "yes"', "mfa", /expects true or false/],
    ["attributes.unknown eq 1", "attributes.unknown", /Unknown custom attribute "attributes.unknown"/],
    ['foo eq "x"', "foo", /Unknown attribute "foo"/],
    ['constructor eq "x"', "constructor", /Unknown attribute/],
    ["passwordHash pr", "passwordHash", /"passwordHash" is not filterable/],
    ["attributes.level co 1", "attributes.level", /not supported on a number/],
    ['attributes.level eq "3"', "attributes.level", /expects a number/],
    ['createdAt gt "yesterday"', "createdAt", /RFC 3339/],
    ['createdAt gt "2025-13-45T99:99:99Z"', "createdAt", /RFC 3339/],
    ['createdAt co "2025"', "createdAt", /not supported on a datetime/],
    ['roles gt "a"', "roles", /not supported on a multi-valued/],
    ["status co null", "status", /cannot compare with null/],
    ['emails[type eq "work"]', "emails", /Value path/],
  ];

  it.each(cases)("%s", (filter, attribute, message) => {
    const error = compileError(filter);
    expect(error.attribute).toBe(attribute);
    expect(error.message).toMatch(message);
  });

  it("refuses more bound parameters than D1 allows", () => {
    expect(compileError('name ew "a" or name ew "b"', 3).message).toMatch(/more than 3 bound parameters/);
    const leaf: FilterNode = { type: "compare", attribute: "name", op: "ew", value: "a", position: 0 };
    let big: FilterNode = leaf;
    for (let i = 0; i < 50; i++) big = { type: "or", left: big, right: leaf };
    const error = compileError(big);
    expect(error.message).toMatch(/more than 100 bound parameters/);
    expect(error.attribute).toBe("name");
    const fifty = Array.from({ length: 50 }, (_, i) => `name ew "${i}"`).join(" or ");
    expect(compileFilter(parseFilter(fifty), catalogue, { now: NOW }).params).toHaveLength(100);
  });
});
