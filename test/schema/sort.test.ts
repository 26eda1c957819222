import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { defineField, readField } from "./support";

let tenant: TestTenant;
const seatsOf = new Map<string, number | null>();

interface Page {
  data: { id: string; attributes: Record<string, unknown> }[];
  nextCursor: string | null;
}

async function walk(sort: string, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ sort, limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const response = await call("GET", `/v1/users?${query}`, { token: tenant.key });
    expect(response.status).toBe(200);
    const page: Page = await json<Page>(response);
    seen.push(...page.data.map((user) => user.id));
    cursor = page.nextCursor;
  } while (cursor);
  return seen;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Sorting on custom fields" });
  await defineField(tenant, { name: "seats", type: "integer", sortable: true });
  await defineField(tenant, { name: "city", type: "string", sortable: true });
  await defineField(tenant, { name: "note", type: "string" });
  for (const [seats, city] of [
    [5, "berlin"],
    [1, "Amsterdam"],
    [null, null],
    [3, "cairo"],
    [3, "Berlin"],
    [null, "athens"],
    [8, null],
  ] as const) {
    const attributes: Record<string, unknown> = {};
    if (seats !== null) attributes.seats = seats;
    if (city !== null) attributes.city = city;
    const user = await createUser(tenant, { attributes });
    seatsOf.set(user.id, seats);
  }
});

function expected(descending: boolean): string[] {
  const ids = [...seatsOf.keys()];
  const rank = (id: string) => seatsOf.get(id) ?? Number.NEGATIVE_INFINITY;
  const sorted = ids.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  return descending ? sorted.reverse() : sorted;
}

describe("sort=attributes.<name>", () => {
  it("walks every user once in value order, users without a value first (last when descending)", async () => {
    for (const limit of [1, 2, 3, 100]) {
      expect(await walk("attributes.seats", limit)).toEqual(expected(false));
      expect(await walk("-attributes.seats", limit)).toEqual(expected(true));
    }
  });

  it("orders text case-insensitively, through the field's index", async () => {
    expect(await walk("attributes.city", 2)).toHaveLength(seatsOf.size);
    const response = await call("GET", "/v1/users?sort=attributes.city&limit=100", { token: tenant.key });
    const cities = (await json<Page>(response)).data.map((user) => user.attributes.city ?? null);
    expect(cities.map((c) => (typeof c === "string" ? c.toLowerCase() : c))).toEqual([
      null,
      null,
      "amsterdam",
      "athens",
      "berlin",
      "berlin",
      "cairo",
    ]);
    const db = await tenantDatabase(tenant.id);
    const field = await readField(tenant, "city");
    const plan = await db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT id FROM users WHERE status <> 'deleted' ORDER BY json_extract(users.attributes, '$.city') COLLATE NOCASE, id LIMIT 10",
      )
      .all<{ detail: string }>();
    expect(plan.results.map((row) => row.detail).join("\n")).toContain(`INDEX users_cf_${field.id.toLowerCase()}`);
  });

  it("sorts by lastLoginAt, users who never logged in first", async () => {
    expect((await walk("lastLoginAt", 3)).length).toBe(seatsOf.size);
  });

  it("refuses a field that is not sortable, and a cursor of another order", async () => {
    const refused = await call("GET", "/v1/users?sort=attributes.note", { token: tenant.key });
    expect((await expectProblem(refused, 400, "VALIDATION_FAILED")).errors?.[0]).toMatchObject({
      field: "sort",
      code: "not_sortable",
    });
    await expectProblem(await call("GET", "/v1/users?sort=attributes.nope", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/users?sort=attributes.", { token: tenant.key }), 400);
    const first = await json<Page>(await call("GET", "/v1/users?sort=attributes.seats&limit=1", { token: tenant.key }));
    const other = await call("GET", `/v1/users?sort=attributes.city&limit=1&cursor=${first.nextCursor}`, {
      token: tenant.key,
    });
    await expectProblem(other, 400, "INVALID_CURSOR");
  });
});
