import { beforeAll, describe, expect, it } from "vitest";
import { RANKED_MATCHES } from "../../src/modules/search/fulltext.query";
import { call, createTenant, json, type TestTenant } from "../helpers/api";
import { listUsers, type Page, walk } from "./support";

/**
 * The two tiers of a relevance order (fulltext.query.ts, CompiledSearch): users every word matches in their name,
 * username or searchable fields first, by score; then those some word matched only in an encrypted field, newest
 * first. A search matching more than RANKED_MATCHES users in the first tier lists it newest first too, and a
 * cursor keeps the order its first page had.
 */

let tenant: TestTenant;

async function bulkCreate(data: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < data.length; i += 1000) {
    const operations = data.slice(i, i + 1000).map((user) => ({ op: "create", data: user }));
    const response = await call("POST", "/v1/users/bulk", { token: tenant.key, body: { operations } });
    expect(response.status).toBe(200);
  }
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Search tiers" });
  await bulkCreate([
    // in the name: the text tier, the shorter name first
    { email: "a1@tiers.example", username: "tier-long", name: "Zebulon Quartermaine Longname" },
    { email: "a2@tiers.example", username: "tier-short", name: "Zebulon" },
    // only in the email: the second tier, newest (created last) first
    { email: "zebulon.one@tiers.example", username: "mail-old", name: "Somebody" },
    { email: "zebulon.two@tiers.example", username: "mail-new", name: "Someone" },
    // one word in the name, the other only in the email: still every word matches, so it is found (tier two)
    { email: "quartermaine@tiers.example", username: "mixed", name: "Zebulon Else" },
    // in the name, created last, the longest name: last by score, first by time
    { email: "a3@tiers.example", username: "late-long", name: "Zebulon With A Much Longer Name Than Most" },
  ]);
});

describe("relevance tiers", () => {
  it("lists name matches by score, then matches through encrypted fields newest first", async () => {
    const { usernames } = await walk(tenant, { q: "zebulon", limit: "2", count: "true" }, 6);
    expect(usernames.slice(0, 4).sort()).toEqual(["late-long", "mixed", "tier-long", "tier-short"]);
    expect(usernames[3]).toBe("late-long");
    expect(usernames.slice(4)).toEqual(["mail-new", "mail-old"]);
  });

  it("a word found only in another user's email does not make a match: every word must match", async () => {
    const { usernames } = await walk(tenant, { q: "zebulon quartermaine", limit: "1", count: "true" }, 2);
    // tier-long has both words in its name; mixed has one in its name and one in its email
    expect(usernames).toEqual(["tier-long", "mixed"]);
  });

  it("refuses a relevance cursor that was tampered with", async () => {
    const first = await json<Page>(await listUsers(tenant, { q: "zebulon", limit: "1" }));
    const [kind] = JSON.parse(atob((first.nextCursor ?? "").replaceAll("-", "+").replaceAll("_", "/")));
    const forged = btoa(JSON.stringify([kind, 2, 0, 1, 1]))
      .replaceAll("+", "-")
      .replaceAll("/", "_");
    const response = await listUsers(tenant, { q: "zebulon", limit: "1", cursor: forged.replace(/=+$/, "") });
    expect(response.status).toBe(400);
  });
});

describe("a search too broad to rank", () => {
  const broad = (i: number) => ({
    email: `broad${i}@many.example`,
    username: `broad${String(i).padStart(5, "0")}`,
    name: `Frequent ${i % 7 === 0 ? "" : "Longer Name "}Person`,
  });
  const cursorOf = (cursor: string | null): unknown[] =>
    JSON.parse(atob((cursor ?? "").replaceAll("-", "+").replaceAll("_", "/")));
  const cursorFrom = (position: unknown[]): string =>
    btoa(JSON.stringify(position)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  it(`above ${RANKED_MATCHES} name matches: newest first`, async () => {
    await bulkCreate(Array.from({ length: RANKED_MATCHES + 20 }, (_, i) => broad(i)));
    const { usernames } = await walk(tenant, { q: "frequent", limit: "700", count: "true" }, RANKED_MATCHES + 20);
    const newestFirst = Array.from({ length: RANKED_MATCHES + 20 }, (_, i) => broad(i).username).reverse();
    expect(usernames).toEqual(newestFirst);
    // the cursor says the first page was not scored
    const first = await json<Page>(await listUsers(tenant, { q: "frequent", limit: "5" }));
    expect(cursorOf(first.nextCursor).slice(1)).toEqual([0, 0, expect.any(Number), 0]);
  });

  it("a cursor keeps the order of its first page (whether it was scored), whatever the number of matches now", async () => {
    const scored = await json<Page>(await listUsers(tenant, { q: "zebulon", limit: "1" }));
    const position = cursorOf(scored.nextCursor);
    expect(position[4]).toBe(1);
    const next = await json<Page>(
      await listUsers(tenant, { q: "zebulon", limit: "10", cursor: scored.nextCursor ?? "" }),
    );
    // the same cursor, marked unscored: the rest of the text tier comes newest first, from the cursor's user on
    const unscored = cursorFrom([...position.slice(0, 4), 0]);
    const other = await json<Page>(await listUsers(tenant, { q: "zebulon", limit: "10", cursor: unscored }));
    const created = ["tier-long", "tier-short", "mixed", "late-long"];
    const older = created.slice(0, created.indexOf(scored.data[0]?.username ?? "")).reverse();
    expect(other.data.map((user) => user.username)).toEqual([...older, "mail-new", "mail-old"]);
    expect(next.data.map((user) => user.username)).toContain("late-long");
  });
});
