import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import type { ApiUser } from "../users/support";

interface Page {
  data: ApiUser[];
  nextCursor: string | null;
  total?: number;
}

let tenant: TestTenant;
const people: Record<string, ApiUser> = {};

async function list(query: Record<string, string>): Promise<Response> {
  return call("GET", `/v1/users?${new URLSearchParams(query)}`, { token: tenant.key });
}

async function names(filter: string, extra: Record<string, string> = {}): Promise<string[]> {
  const response = await list({ filter, limit: "1000", ...extra });
  expect(response.status).toBe(200);
  return (await json<Page>(response)).data.map((user) => user.username ?? "").sort();
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Users filter" });
  const rows = [
    { username: "ada", name: "Ada Lovelace", email: "Ada@Example.com", roles: ["admin"], phone: "+14155550101" },
    { username: "grace", name: "Grace Hopper", email: "grace@navy.example", roles: ["manager"] },
    { username: "alan", name: "Alan Turing", email: "alan@bletchley.example", roles: ["admin", "manager"] },
    { username: "edsger", name: null, email: "edsger@example.org", roles: [] },
  ];
  for (const row of rows) people[row.username] = (await createUser(tenant, row)) as unknown as ApiUser;
  const disable = await call("PATCH", `/v1/users/${people.edsger?.id}`, {
    token: tenant.key,
    body: { status: "disabled" },
  });
  expect(disable.status).toBe(200);
  const removed = await createUser(tenant, { username: "gone", roles: ["admin"] });
  expect((await call("DELETE", `/v1/users/${removed.id}`, { token: tenant.key })).status).toBe(200);
});

describe("GET /v1/users?filter=", () => {
  it("matches on status, roles, names and combinations", async () => {
    expect(await names('status eq "active"')).toEqual(["ada", "alan", "grace"]);
    expect(await names('roles eq "admin"')).toEqual(["ada", "alan"]);
    expect(await names('roles eq "admin" and roles eq "manager"')).toEqual(["alan"]);
    expect(await names('roles eq "admin" or status eq "disabled"')).toEqual(["ada", "alan", "edsger"]);
    expect(await names('not (roles eq "admin")')).toEqual(["edsger", "grace"]);
    expect(await names("name pr")).toEqual(["ada", "alan", "grace"]);
    expect(await names('name co "hop"')).toEqual(["grace"]);
    expect(await names('name sw "al" or name ew "ACE"')).toEqual(["ada", "alan"]);
  });

  it("compares usernames case-insensitively, and email and phone through their blind indexes", async () => {
    expect(await names('username eq "ADA"')).toEqual(["ada"]);
    expect(await names('username sw "a"')).toEqual(["ada", "alan"]);
    expect(await names('email eq "ada@example.COM"')).toEqual(["ada"]);
    expect(await names('email ne "ada@example.com"')).toEqual(["alan", "edsger", "grace"]);
    expect(await names('phone eq "+14155550101"')).toEqual(["ada"]);
    expect(await names("phone pr")).toEqual(["ada"]);
  });

  it("resolves relative and absolute times", async () => {
    expect(await names('createdAt gt "now-1h"')).toEqual(["ada", "alan", "edsger", "grace"]);
    expect(await names('createdAt lt "now-30d"')).toEqual([]);
    expect(await names('createdAt ge "2020-01-01T00:00:00Z" and lastLoginAt pr')).toEqual([]);
    expect(await names('roles eq "admin" and createdAt gt "now-30d"')).toEqual(["ada", "alan"]);
  });

  it("stays within includeDeleted", async () => {
    expect(await names('roles eq "admin"', { includeDeleted: "true" })).toEqual(["ada", "alan", "gone"]);
    expect(await names('status eq "deleted"')).toEqual([]);
  });

  it("pages through the filtered set and counts it", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { filter: 'status eq "active"', limit: "1", count: "true" };
      if (cursor) query.cursor = cursor;
      const page = await json<Page>(await list(query));
      expect(page.total).toBe(3);
      seen.push(...page.data.map((user) => user.username ?? ""));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(["ada", "alan", "grace"]);
    const plain = await json<Page>(await list({ limit: "1" }));
    expect(plain).not.toHaveProperty("total");
  });

  it("refuses a cursor made for another filter", async () => {
    const first = await json<Page>(await list({ filter: 'status eq "active"', limit: "1" }));
    expect(first.nextCursor).not.toBeNull();
    const other = await list({ filter: 'status ne "active"', limit: "1", cursor: first.nextCursor ?? "" });
    await expectProblem(other, 400, "INVALID_CURSOR");
  });

  it("answers a malformed filter with 400 and the position of the error", async () => {
    const problem = await expectProblem(await list({ filter: 'status eq "active" and' }), 400, "INVALID_FILTER");
    expect(problem).toMatchObject({ position: 22 });
    expect(problem.errors?.[0]).toMatchObject({ field: "filter", code: "INVALID_FILTER" });
    await expectProblem(await list({ filter: 'status eq "active' }), 400, "INVALID_FILTER");
    await expectProblem(await list({ filter: "(".repeat(500) }), 400, "INVALID_FILTER");
  });

  it("names the attribute it cannot filter on", async () => {
    const unknown = await expectProblem(await list({ filter: "attributes.salary gt 10" }), 400, "INVALID_FILTER");
    expect(unknown).toMatchObject({ attribute: "attributes.salary" });
    expect(unknown.detail).toContain("attributes.salary");
    const typed = await expectProblem(await list({ filter: "createdAt gt 5" }), 400, "INVALID_FILTER");
    expect(typed).toMatchObject({ attribute: "createdAt" });
    const sealed = await expectProblem(await list({ filter: 'email gt "a"' }), 400, "INVALID_FILTER");
    expect(sealed.detail).toContain("encrypted");
  });

  it("binds values, so injected SQL is only ever a string that matches nothing", async () => {
    for (const value of [`x' OR 1=1 --`, `"); DROP TABLE users; --`, "%", "_"]) {
      const filter = `name eq ${JSON.stringify(value)} or username co ${JSON.stringify(value)}`;
      expect(await names(filter)).toEqual([]);
    }
    expect(await names("status pr")).toHaveLength(4);
  });
});
