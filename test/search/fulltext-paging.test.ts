import { beforeAll, describe, expect, it } from "vitest";
import { pageQuery } from "../../src/modules/users/users.list";
import { compileUserSearch } from "../../src/modules/users/users.search";
import { call, createTenant, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { tenantContext } from "../pii/support";
import { listUsers, type Page, walk } from "./support";

let tenant: TestTenant;
const USERS = 120;

/** Usernames of the users `i` stands for, with what each has: every third is "Tri", every even one an admin. */
const username = (i: number) => `walker${String(i).padStart(3, "0")}`;

beforeAll(async () => {
  tenant = await createTenant({ name: "Search paging" });
  const operations = Array.from({ length: USERS }, (_, i) => ({
    op: "create",
    data: {
      email: `${username(i)}@paging.example`,
      username: username(i),
      // names of several lengths, so that scores differ, and many equal ones, so that ties need the id
      name: `Walker ${i % 3 === 0 ? "Tri" : "Other"}${" Middle".repeat(i % 4)} Surname`,
      roles: i % 2 === 0 ? ["admin"] : [],
    },
  }));
  const bulk = await call("POST", "/v1/users/bulk", { token: tenant.key, body: { operations } });
  expect(bulk.status).toBe(200);
});

describe("cursor paging through search results", () => {
  it("visits every match exactly once, best first, whatever the page size", async () => {
    const everyone = Array.from({ length: USERS }, (_, i) => username(i)).sort();
    const whole = await json<Page>(await listUsers(tenant, { q: "walker", limit: "1000" }));
    expect(whole.data.map((user) => user.username).sort()).toEqual(everyone);
    for (const limit of ["7", "50"]) {
      const { usernames, pages } = await walk(tenant, { q: "walker", limit, count: "true" }, USERS);
      expect(usernames).toEqual(whole.data.map((user) => user.username));
      expect(pages).toBe(Math.ceil(USERS / Number(limit)));
    }
  });

  it("orders by relevance: the shortest names (fewest trigrams) first", async () => {
    const { usernames } = await walk(tenant, { q: "walker surname", limit: "9" });
    const middles = usernames.map((name) => Number(name.slice(-3)) % 4);
    // four name lengths: every user with fewer " Middle"s comes before every user with more
    expect(middles).toEqual([...middles].sort((a, b) => a - b));
  });

  it("with a filter and count: only the matches that pass it, each once", async () => {
    const expected = Array.from({ length: USERS }, (_, i) => i)
      .filter((i) => i % 2 === 0 && i % 3 === 0)
      .map(username);
    const { usernames } = await walk(
      tenant,
      { q: "tri walk", filter: 'roles eq "admin"', limit: "4", count: "true" },
      20,
    );
    expect(usernames.sort()).toEqual(expected.sort());
  });

  it("with an explicit sort: that order, each match once", async () => {
    // the order of the same users without a search (one bulk request: equal times, then ids)
    const walkers1 = (await walk(tenant, { filter: 'username sw "walker1"', sort: "createdAt" })).usernames;
    expect(walkers1).toHaveLength(20);
    const ascending = await walk(
      tenant,
      { q: "walker1", sort: "createdAt", limit: "6", count: "true" },
      walkers1.length,
    );
    expect(ascending.usernames).toEqual(walkers1);
    const descending = await walk(tenant, { q: "WALKER1", sort: "-createdAt", limit: "6" });
    expect(descending.usernames).toEqual([...walkers1].reverse());
  });

  it("a cursor does not carry over to another sort of the same q", async () => {
    const first = await json<Page>(await listUsers(tenant, { q: "walker", limit: "5" }));
    const other = await listUsers(tenant, {
      q: "walker",
      sort: "createdAt",
      limit: "5",
      cursor: first.nextCursor ?? "",
    });
    expect(other.status).toBe(400);
  });
});

describe("query plans", () => {
  /** EXPLAIN QUERY PLAN of the page query the list would run. */
  async function plan(q: string, sort: "relevance" | "createdAt", filter = false): Promise<string[]> {
    const ctx = await tenantContext(tenant.id);
    const search = await compileUserSearch(ctx, q);
    const query = pageQuery(ctx, {
      sort,
      after: sort === "relevance" ? null : { value: "2000-01-01", id: "usr_0" },
      rankAfter: sort === "relevance" ? { tier: 0, score: -1, rid: 7, ranked: true } : null,
      includeDeleted: false,
      limit: 51,
      search,
      filter: filter ? { sql: "users.roles IS NOT NULL", params: [] } : undefined,
    }).toSQL();
    const db = await tenantDatabase(tenant.id);
    const { results } = await db
      .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    return results.map((row) => row.detail);
  }

  it("a search reaches users through the FTS5 indexes and rowids, never by scanning users", async () => {
    for (const [q, sort, filter] of [
      ["walker", "relevance", false],
      ["walker middle", "relevance", true],
      ["walker", "createdAt", false],
    ] as const) {
      const details = await plan(q, sort, filter);
      const text = details.join("\n");
      // MATCH lookups on both tables ("INDEX <n>:M…" is FTS5's full-text query plan), never a full FTS5 scan
      expect(text, q).toMatch(/SCAN users_text VIRTUAL TABLE INDEX \d+:M/);
      expect(text, q).toMatch(/SCAN users_grams VIRTUAL TABLE INDEX \d+:M/);
      expect(text, q).not.toMatch(/VIRTUAL TABLE INDEX \d+:(?!M)/);
      if (sort === "relevance") {
        expect(text, q).toMatch(/SEARCH users USING INTEGER PRIMARY KEY \(rowid=\?\)/);
        // without a filter, deleted users are left out through their partial index, not by reading each hit
        if (!filter) expect(text, q).toMatch(/USING COVERING INDEX users_deleted_idx/);
        expect(
          details.filter((line) => /^SCAN users\b/.test(line)),
          q,
        ).toEqual([]);
      }
    }
  });
});
