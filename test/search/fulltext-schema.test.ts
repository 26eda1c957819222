import { beforeAll, describe, expect, it } from "vitest";
import {
  fieldsExpression,
  reindexSearchGrams,
  reindexSearchText,
  searchTextTriggerSql,
  searchTextTriggers,
} from "../../src/modules/search/fulltext.schema";
import { call, createTenant, createUser, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import { foundSet } from "./support";

let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: "Search schema" });
  db = await tenantDatabase(tenant.id);
});

/** Re-indexes every user with these fields, `chunk` rows per call; returns the number of calls that did work. */
async function reindexAll(fields: string[], chunk: number, grams = false): Promise<number> {
  let after = 0;
  let calls = 0;
  for (;;) {
    const last = grams ? await reindexSearchGrams(db, after, chunk) : await reindexSearchText(db, fields, after, chunk);
    if (last === null) return calls;
    expect(last).toBeGreaterThan(after);
    after = last;
    calls++;
  }
}

describe("the SQLite of workerd's D1", () => {
  it("has FTS5 with the trigram tokenizer and contentless-delete tables", async () => {
    await db.batch([
      db.prepare(
        "CREATE VIRTUAL TABLE probe USING fts5(body, tokenize = 'trigram', content = '', contentless_delete = 1)",
      ),
      db.prepare("INSERT INTO probe (rowid, body) VALUES (1, 'Ada Lovelace'), (2, 'Grace Hopper')"),
    ]);
    const match = (text: string) =>
      db
        .prepare("SELECT rowid AS r FROM probe WHERE probe MATCH ?")
        .bind(`"${text}"`)
        .all<{ r: number }>()
        .then(({ results }) => results.map((row) => row.r));
    expect(await match("VELA")).toEqual([1]);
    expect(await match("e Hop")).toEqual([2]);
    await db.prepare("DELETE FROM probe WHERE rowid = 1").run();
    expect(await match("vela")).toEqual([]);
    await db.prepare("INSERT OR REPLACE INTO probe (rowid, body) VALUES (2, 'Grace Brewster')").run();
    expect(await match("hopper")).toEqual([]);
    expect(await match("brews")).toEqual([2]);
    await db.prepare("DROP TABLE probe").run();
    expect(await count(db, "sqlite_master", "name LIKE 'probe%'")).toBe(0);
  });
});

describe("the users_text triggers", () => {
  it("the migration's are the ones searchTextTriggers generates for no searchable field", async () => {
    const { results } = await db
      .prepare(
        "SELECT sql FROM sqlite_master WHERE name IN ('users_text_on_insert', 'users_text_on_update') ORDER BY name",
      )
      .all<{ sql: string }>();
    const squash = (text: string) => text.replace(/\s+/g, " ").trim();
    expect(results.map((row) => squash(row.sql))).toEqual(searchTextTriggerSql([]).map(squash));
  });

  it("refuse a field name that is not a plain identifier", () => {
    for (const name of ["a'b", "a.b", "1a", "a b", "", "x".repeat(65), "a') --"]) {
      expect(() => fieldsExpression([name], "new"), name).toThrow();
    }
    expect(fieldsExpression(["b", "a", "b"], "new")).toBe(
      "concat_ws(' ', json_extract(new.attributes, '$.a'), json_extract(new.attributes, '$.b'))",
    );
  });

  it("index the searchable custom fields once re-created, and re-index existing users in chunks", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const attributes = { department: `Research Lab ${i}`, badge: 12345 + i, secret: "Undisclosed" };
      ids.push((await createUser(tenant, { username: `member${i}`, attributes })).id);
    }
    expect(await foundSet(tenant, "research")).toEqual([]);

    const fields = ["department", "badge"];
    await db.batch(searchTextTriggers(db, fields));
    // rows written before the change are found only once re-indexed, two per call here
    expect(await foundSet(tenant, "research")).toEqual([]);
    expect(await reindexAll(fields, 2)).toBe(3);
    expect(await foundSet(tenant, "research lab")).toEqual(["member0", "member1", "member2", "member3", "member4"]);
    expect(await foundSet(tenant, "12347")).toEqual(["member2"]);
    expect(await foundSet(tenant, "undisclosed")).toEqual([]);

    // from now on every write keeps them in step
    await createUser(tenant, { username: "newcomer", attributes: { department: "Research Kitchen" } });
    expect(await foundSet(tenant, "kitchen")).toEqual(["newcomer"]);
    const patch = await call("PATCH", `/v1/users/${ids[0]}`, {
      token: tenant.key,
      body: { attributes: { department: "Marketing" } },
    });
    expect(patch.status).toBe(200);
    expect(await foundSet(tenant, "marketing")).toEqual(["member0"]);
    expect(await foundSet(tenant, "research lab")).toEqual(["member1", "member2", "member3", "member4"]);

    // and back to none
    await db.batch(searchTextTriggers(db, []));
    expect(await reindexAll([], 100)).toBe(1);
    expect(await foundSet(tenant, "research")).toEqual([]);
    expect(await foundSet(tenant, "member3")).toEqual(["member3"]);
    expect(await count(db, "users_text_docsize")).toBe(await count(db, "users"));
  });
});

describe("rebuilding users_grams", () => {
  it("restores email search from the grams columns after the table was emptied", async () => {
    await createUser(tenant, { username: "rebuilt", email: "rebuilt.person@rebuild.example" });
    expect(await foundSet(tenant, "rebuild.exa")).toEqual(["rebuilt"]);
    await db.prepare("INSERT INTO users_grams (users_grams) VALUES ('delete-all')").run();
    expect(await foundSet(tenant, "rebuild.exa")).toEqual([]);
    expect(await reindexAll([], 4, true)).toBeGreaterThan(1);
    expect(await foundSet(tenant, "rebuild.exa")).toEqual(["rebuilt"]);
    expect(await count(db, "users_grams_docsize")).toBe(await count(db, "users"));
  });
});
