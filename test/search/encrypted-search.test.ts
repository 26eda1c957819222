import { beforeAll, describe, expect, it } from "vitest";
import { anyRowBelow, reencryptUsers } from "../../src/modules/users/users.rekey";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { rawRows, runCron, tenantDatabase } from "../helpers/db";
import { markerEmail, markerPhone, tenantContext } from "../pii/support";
import { foundSet, listUsers, type Page, shadowText } from "./support";

let tenant: TestTenant;
let db: D1Database;

const PEOPLE = [
  { username: "ada", email: "Ada.Lovelace@Analytical.example", phone: "+14155550101" },
  { username: "grace", email: "grace@navy.example", phone: "+14155550199" },
  { username: "alan", email: "alan@bletchley.example.org", phone: "+442079460000" },
  { username: "edsger", email: "ewd@tue.example.nl" },
];

/** The usernames `filter` selects. */
async function filtered(filter: string): Promise<string[]> {
  const response = await listUsers(tenant, { filter, limit: "1000" });
  expect(response.status, filter).toBe(200);
  return (await json<Page>(response)).data.map((user) => user.username ?? "").sort();
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Encrypted search" });
  db = await tenantDatabase(tenant.id);
  for (const person of PEOPLE) await createUser(tenant, person);
});

describe("q= over encrypted email and phone", () => {
  it("finds any part of three characters or more of an email, in any case", async () => {
    expect(await foundSet(tenant, "lovelace@anal")).toEqual(["ada"]);
    expect(await foundSet(tenant, "ANALYTICAL")).toEqual(["ada"]);
    expect(await foundSet(tenant, "@navy.ex")).toEqual(["grace"]);
    expect(await foundSet(tenant, "example.org")).toEqual(["alan"]);
    expect(await foundSet(tenant, ".example")).toEqual(["ada", "alan", "edsger", "grace"]);
    // a substring, not just the same trigrams: "nav" and "avy" occur, "navyx" does not
    expect(await foundSet(tenant, "navyx")).toEqual([]);
    expect(await foundSet(tenant, "avy.exa")).toEqual(["grace"]);
    expect(await foundSet(tenant, "y.exa")).toEqual(["alan", "grace"]);
    expect(await foundSet(tenant, "lovelace@navy")).toEqual([]);
  });

  it("finds any part of a phone number", async () => {
    expect(await foundSet(tenant, "5550101")).toEqual(["ada"]);
    expect(await foundSet(tenant, "+44207")).toEqual(["alan"]);
    expect(await foundSet(tenant, "415555")).toEqual(["ada", "grace"]);
    expect(await foundSet(tenant, "0101 grace")).toEqual([]);
  });

  it("an email change: the old address is no longer found, the new one is", async () => {
    const user = await createUser(tenant, { username: "mover", email: "mover@oldplace.example" });
    expect(await foundSet(tenant, "oldplace")).toEqual(["mover"]);
    const patch = await call("PATCH", `/v1/users/${user.id}`, {
      token: tenant.key,
      body: { email: "mover@newplace.example", phone: "+33140000000" },
    });
    expect(patch.status).toBe(200);
    expect(await foundSet(tenant, "oldplace")).toEqual([]);
    expect(await foundSet(tenant, "newplace")).toEqual(["mover"]);
    expect(await foundSet(tenant, "3314")).toEqual(["mover"]);
  });
});

describe("filter= co, sw and ew on encrypted email and phone", () => {
  it("co, sw and ew through the keyed n-grams, case-insensitively", async () => {
    expect(await filtered('email co "NAVY"')).toEqual(["grace"]);
    expect(await filtered('email sw "grace@"')).toEqual(["grace"]);
    expect(await filtered('email sw "race"')).toEqual([]);
    expect(await filtered('email sw "al"')).toEqual(["alan"]);
    expect(await filtered('email ew ".org"')).toEqual(["alan"]);
    expect(await filtered('email ew "example"')).toEqual(["ada", "grace", "mover"]);
    expect(await filtered('email ew "exampl"')).toEqual([]);
    expect(await filtered('phone sw "+44"')).toEqual(["alan"]);
    expect(await filtered('phone ew "0199"')).toEqual(["grace"]);
    expect(await filtered('phone co "5550"')).toEqual(["ada", "grace"]);
  });

  it("combines with the other operators and fields", async () => {
    expect(await filtered('email co "example" and not (email ew ".example")')).toEqual(["alan", "edsger"]);
    expect(await filtered('email sw "ada" or phone sw "+44"')).toEqual(["ada", "alan"]);
    expect(await filtered('email eq "grace@navy.example" or email co "tue"')).toEqual(["edsger", "grace"]);
    const both = await listUsers(tenant, { q: "example", filter: 'phone co "555"', count: "true" });
    expect((await json<Page>(both)).total).toBe(2);
  });

  it("a value too short for a trigram is refused, naming the attribute", async () => {
    for (const filter of ['email co "ab"', 'email sw "a"', 'phone ew "1"', 'email co ""']) {
      const problem = await expectProblem(await listUsers(tenant, { filter }), 400, "INVALID_FILTER");
      expect(problem, filter).toMatchObject({ attribute: filter.split(" ")[0] });
    }
    const ordered = await expectProblem(await listUsers(tenant, { filter: 'email gt "a"' }), 400, "INVALID_FILTER");
    expect(ordered.detail).toContain("encrypted");
  });
});

describe("at rest", () => {
  it("the search tables and grams hold no email or phone, nor any part of one longer than a trigram", async () => {
    const email = markerEmail("Grams");
    const phone = markerPhone();
    const user = await createUser(tenant, { email, phone, username: "marker" });
    expect(await foundSet(tenant, email.slice(0, 12))).toEqual(["marker"]);
    const [row] = await rawRows<{ contact_grams: string }>(db, "users", "id = ?", user.id);
    // one token per trigram of the padded values: as many as characters, for each of email and phone
    const tokens = row?.contact_grams.split(" ") ?? [];
    expect(tokens).toHaveLength(email.length + phone.length);
    for (const token of tokens) expect(token).toMatch(/^[a-z2-7]{10}$/);

    const local = email.split("@")[0] ?? "";
    const fragments = [email, local, phone, phone.slice(1), local.slice(-8), phone.slice(-6)];
    const stored = [await shadowText(db, "users_grams"), await shadowText(db, "users_text"), row?.contact_grams];
    for (const text of stored) {
      for (const fragment of fragments) {
        expect(text?.includes(fragment)).toBe(false);
        expect(text?.toLowerCase().includes(fragment.toLowerCase())).toBe(false);
      }
    }
  });

  it("tokens are per tenant: the same email gives other tokens in another tenant", async () => {
    const other = await createTenant({ name: "Encrypted search, other" });
    const same = "shared.person@same.example";
    const here = await createUser(tenant, { email: same });
    const there = await createUser(other, { email: same });
    const [a] = await rawRows<{ contact_grams: string }>(db, "users", "id = ?", here.id);
    const [b] = await rawRows<{ contact_grams: string }>(await tenantDatabase(other.id), "users", "id = ?", there.id);
    const mine = new Set(a?.contact_grams.split(" "));
    expect(b?.contact_grams.split(" ").filter((token) => mine.has(token))).toEqual([]);
  });
});

describe("rows older than search (tenant migration 10)", () => {
  it("have no grams until the data-key rotation job fills them; then they are found", async () => {
    const user = await createUser(tenant, { username: "legacy", email: "legacy.person@before.example" });
    const ctx = await tenantContext(tenant.id);
    // what the migration leaves in rows written before it
    await db.prepare("UPDATE users SET contact_grams = NULL WHERE id = ?").bind(user.id).run();
    expect(await foundSet(tenant, "before.example")).toEqual([]);
    expect(await anyRowBelow(ctx, 1)).toBe(true);

    await runCron("* * * * *");
    expect(await anyRowBelow(ctx, 1)).toBe(false);
    expect(await foundSet(tenant, "before.example")).toEqual(["legacy"]);
    // the user did not change: neither its ETag (version) nor updatedAt moved
    const after = await json<{ updatedAt: string }>(await call("GET", `/v1/users/${user.id}`, { token: tenant.key }));
    expect(after.updatedAt).toBe(user.updatedAt);
    expect((await reencryptUsers(ctx, 1)).reencrypted).toBe(0);
  });
});
