import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import { found, foundSet, listUsers, type Page } from "./support";

let tenant: TestTenant;
let db: D1Database;
const ids: Record<string, string> = {};

const PEOPLE = [
  { username: "ada", name: "Ada Lovelace", email: "countess@analytical.example", phone: "+14155550101" },
  { username: "grace_h", name: "Grace Hopper", email: "grace@navy.example" },
  { username: "aturing", name: "Alan Turing", email: "alan@bletchley.example", phone: "+442079460000" },
  { username: "adalbert99", name: "Adalbert Humperdinck-Fitzgerald of Lower Saxony", email: "adalbert@example.org" },
  { username: "torvalds", name: "Linus Torvalds", email: "linus@kernel.example" },
  // ranking: the same word as a whole (short) username, and inside a long name
  { username: "lovelace", email: "first@rank.example" },
  {
    username: "rank2",
    name: "Augusta Ada King, Countess of Lovelace and Baroness of Ockham",
    email: "second@rank.example",
  },
];

beforeAll(async () => {
  tenant = await createTenant({ name: "Full-text search" });
  db = await tenantDatabase(tenant.id);
  for (const person of PEOPLE) ids[person.username] = (await createUser(tenant, person)).id;
});

describe("GET /v1/users?q= over names and usernames", () => {
  it("finds any part of three characters or more of a name or username, in any case", async () => {
    expect(await foundSet(tenant, "hopper")).toEqual(["grace_h"]);
    expect(await foundSet(tenant, "OPP")).toEqual(["grace_h"]);
    expect(await foundSet(tenant, "Turi")).toEqual(["aturing"]);
    expect(await foundSet(tenant, "urin")).toEqual(["aturing"]);
    expect(await foundSet(tenant, "TORV")).toEqual(["torvalds"]);
    expect(await foundSet(tenant, "albert9")).toEqual(["adalbert99"]);
    // punctuation is part of the text
    expect(await foundSet(tenant, "k-fitz")).toEqual(["adalbert99"]);
    expect(await foundSet(tenant, "zzzz")).toEqual([]);
  });

  it("needs every word to match, each in any field", async () => {
    expect(await foundSet(tenant, "ada lovelace")).toEqual(["ada", "rank2"]);
    expect(await foundSet(tenant, "Lovelace ANALYTICAL")).toEqual(["ada"]);
    expect(await foundSet(tenant, "grace turing")).toEqual([]);
    expect(await foundSet(tenant, "  hopper   grace  ")).toEqual(["grace_h"]);
    // words shorter than three characters cannot be matched by a trigram index: they are left out
    expect(await foundSet(tenant, "of Lower")).toEqual(["adalbert99"]);
  });

  it("takes up to eight words, all of which must match", async () => {
    const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
    await createUser(tenant, { username: "nato", name: words.join(" ") });
    await createUser(tenant, { username: "nato7", name: words.slice(0, 7).join(" ") });
    expect(await foundSet(tenant, words.join(" "))).toEqual(["nato"]);
    expect(await foundSet(tenant, words.slice(0, 7).reverse().join(" "))).toEqual(["nato", "nato7"]);
  });

  it("ranks a whole short username above the same word inside a long name (bm25)", async () => {
    expect(await found(tenant, "lovelace")).toEqual(["lovelace", "ada", "rank2"]);
    // an explicit sort still applies to the same matches
    expect(await found(tenant, "lovelace", { sort: "createdAt" })).toEqual(["ada", "lovelace", "rank2"]);
    expect(await found(tenant, "lovelace", { sort: "-createdAt" })).toEqual(["rank2", "lovelace", "ada"]);
  });

  it("combines with filter and count", async () => {
    const response = await listUsers(tenant, { q: "ada", filter: 'username sw "ada"', count: "true" });
    const page = await json<Page>(response);
    expect(page.data.map((user) => user.username).sort()).toEqual(["ada", "adalbert99"]);
    expect(page.total).toBe(2);
    const all = await json<Page>(await listUsers(tenant, { q: "ada", count: "true", limit: "1" }));
    expect(all.data).toHaveLength(1);
    expect(all.total).toBe(3);
  });
});

describe("the index follows every write", () => {
  it("a rename: the old name is no longer found, the new one is", async () => {
    const user = await createUser(tenant, { username: "renamer", name: "Quentin Oldname" });
    expect(await foundSet(tenant, "oldname")).toEqual(["renamer"]);
    const patch = await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name: "Quentin Newname" } });
    expect(patch.status).toBe(200);
    expect(await foundSet(tenant, "oldname")).toEqual([]);
    expect(await foundSet(tenant, "newname")).toEqual(["renamer"]);
    const unname = await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name: null } });
    expect(unname.status).toBe(200);
    expect(await foundSet(tenant, "newname")).toEqual([]);
    expect(await foundSet(tenant, "renamer")).toEqual(["renamer"]);
  });

  it("soft delete hides a user unless includeDeleted; restore brings it back", async () => {
    const user = await createUser(tenant, { username: "softie", name: "Soft Deleted" });
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    expect(await foundSet(tenant, "softie")).toEqual([]);
    expect(await foundSet(tenant, "softie", { includeDeleted: "true" })).toEqual(["softie"]);
    expect((await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key })).status).toBe(200);
    expect(await foundSet(tenant, "softie")).toEqual(["softie"]);
  });

  it("a purge removes the user from both search tables", async () => {
    const user = await createUser(tenant, { username: "purgee", name: "Purged Forever", email: "purgee@gone.example" });
    const row = await db.prepare("SELECT rowid AS r FROM users WHERE id = ?").bind(user.id).first<{ r: number }>();
    const rowid = row?.r ?? -1;
    expect(await count(db, "users_text_docsize", "id = ?", rowid)).toBe(1);
    expect(await count(db, "users_grams_docsize", "id = ?", rowid)).toBe(1);
    const indexed = { text: await count(db, "users_text_docsize"), grams: await count(db, "users_grams_docsize") };

    const purge = await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key });
    expect(purge.status).toBe(204);
    expect(await count(db, "users_text_docsize", "id = ?", rowid)).toBe(0);
    expect(await count(db, "users_grams_docsize", "id = ?", rowid)).toBe(0);
    expect(await count(db, "users_text_docsize")).toBe(indexed.text - 1);
    expect(await count(db, "users_grams_docsize")).toBe(indexed.grams - 1);
    const direct = await db.prepare("SELECT rowid FROM users_text WHERE users_text MATCH ?").bind('"purgee"').all();
    expect(direct.results).toEqual([]);
    expect(await foundSet(tenant, "purgee", { includeDeleted: "true" })).toEqual([]);
    expect(await foundSet(tenant, "gone.example", { includeDeleted: "true" })).toEqual([]);
  });

  it("bulk creates and updates are indexed in their own batch", async () => {
    const bulk = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: "bulk1@bulk.example", username: "bulkone", name: "Xylophone Player" } },
          { op: "create", data: { email: "bulk2@bulk.example", username: "bulktwo", name: "Xylophone Tuner" } },
          { op: "update", id: ids.torvalds, data: { name: "Linus Xylophonist" } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    expect(await foundSet(tenant, "xylophon")).toEqual(["bulkone", "bulktwo", "torvalds"]);
    expect(await foundSet(tenant, "xylophone tuner")).toEqual(["bulktwo"]);
  });
});

describe("bad queries are refused, never run", () => {
  it("a q without any word of three characters or more → 400 on q", async () => {
    for (const q of ["", "ab", "a b c", "   ", "é é"]) {
      const problem = await expectProblem(await listUsers(tenant, { q }), 400, "VALIDATION_FAILED");
      expect(problem.errors?.[0]).toMatchObject({ field: "q" });
    }
  });

  it("too many words, or too long → 400", async () => {
    const many = Array.from({ length: 9 }, (_, i) => `word${i}`).join(" ");
    const problem = await expectProblem(await listUsers(tenant, { q: many }), 400, "VALIDATION_FAILED");
    expect(problem.errors?.[0]?.detail).toContain("8");
    await expectProblem(await listUsers(tenant, { q: "x".repeat(201) }), 400, "VALIDATION_FAILED");
  });

  it("sort=relevance needs q", async () => {
    const problem = await expectProblem(await listUsers(tenant, { sort: "relevance" }), 400, "VALIDATION_FAILED");
    expect(problem.errors?.[0]).toMatchObject({ field: "sort" });
  });

  it("FTS5 syntax in q is plain text: no operator, no error", async () => {
    const attempts = [
      "NEAR(ada lovelace)",
      "ada*",
      '"ada',
      'ada"',
      '"ada" OR "grace"',
      "ada OR grace",
      "ada NOT lovelace",
      "-ada",
      "^ada",
      "name:ada",
      "{name username}:ada",
      "ada NEAR",
      "(ada",
      "ada + grace",
      "'); DROP TABLE users; --",
      "%ada%",
    ];
    for (const q of attempts) {
      const response = await listUsers(tenant, { q, limit: "1000" });
      expect(response.status, q).toBe(200);
      const usernames = (await json<Page>(response)).data.map((user) => user.username);
      // read as operators, several of these would find ada (or grace); as text, no user has them
      expect(usernames, q).toEqual([]);
    }
    // "ada OR grace" is the words ada and grace ("OR" is too short): both must match, and nobody has both
    expect(await foundSet(tenant, "grace navy")).toEqual(["grace_h"]);
    // control characters separate words (D1 would cut a bound string at a NUL)
    expect(await foundSet(tenant, "\u0000ada\u0001")).toEqual(await foundSet(tenant, "ada"));
    expect(await count(db, "users")).toBeGreaterThan(0);
  });

  it("a cursor belongs to its q", async () => {
    const first = await json<Page>(await listUsers(tenant, { q: "lovelace", limit: "1" }));
    expect(first.nextCursor).not.toBeNull();
    const other = await listUsers(tenant, { q: "ada", limit: "1", cursor: first.nextCursor ?? "" });
    await expectProblem(other, 400, "INVALID_CURSOR");
    const unsearched = await listUsers(tenant, { limit: "1", cursor: first.nextCursor ?? "" });
    await expectProblem(unsearched, 400, "INVALID_CURSOR");
    // the same words in another case or spacing are the same search
    const same = await listUsers(tenant, { q: " LOVELACE ", limit: "1", cursor: first.nextCursor ?? "" });
    expect(same.status).toBe(200);
  });
});
