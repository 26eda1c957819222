import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { type ApiUser, bulkCreate, bulkOk, listAll, patchUser } from "./support";

interface Page {
  data: ApiUser[];
  nextCursor: string | null;
}

let tenant: TestTenant;
let ids: string[];
let deleted: Set<string>;

async function walk(query: Record<string, string>): Promise<{ users: ApiUser[]; pages: number }> {
  const users: ApiUser[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const params = new URLSearchParams(query);
    if (cursor) params.set("cursor", cursor);
    const response = await call("GET", `/v1/users?${params}`, { token: tenant.key });
    expect(response.status).toBe(200);
    const page = await json<Page>(response);
    const limit = Number(query.limit ?? 50);
    expect(page.data.length).toBeLessThanOrEqual(limit);
    if (page.nextCursor) expect(page.data.length).toBe(limit);
    users.push(...page.data);
    cursor = page.nextCursor;
    pages++;
    expect(pages).toBeLessThan(1000);
  } while (cursor);
  return { users, pages };
}

function byCreated(a: ApiUser, b: ApiUser): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Users paging" });
  ids = await bulkCreate(tenant, 120, "page");
  // spread updatedAt apart from createdAt order: touch every 5th user, newest first
  for (const id of ids.filter((_, i) => i % 5 === 0).reverse()) {
    expect((await patchUser(tenant, id, { attributes: { touched: true } })).status).toBe(200);
  }
  const toDelete = ids.filter((_, i) => i % 9 === 4);
  deleted = new Set(toDelete);
  const results = await bulkOk(tenant, { operations: toDelete.map((id) => ({ op: "delete", id })) });
  expect(results.every((r) => r.status === 200)).toBe(true);
});

describe("cursor paging over GET /v1/users", () => {
  it("limit=7 visits every live user exactly once in (createdAt, id) order, then nextCursor null", async () => {
    const { users, pages } = await walk({ limit: "7" });
    const live = ids.filter((id) => !deleted.has(id));
    expect(users.map((u) => u.id).sort()).toEqual([...live].sort());
    expect(new Set(users.map((u) => u.id)).size).toBe(users.length);
    expect([...users].sort(byCreated)).toEqual(users);
    expect(pages).toBe(Math.ceil(live.length / 7));
    expect(users.every((u) => u.status !== "deleted")).toBe(true);
  });

  it("the default order is the creation order of the bulk request", async () => {
    const { users } = await walk({ limit: "50" });
    expect(users.map((u) => u.id)).toEqual(ids.filter((id) => !deleted.has(id)));
  });

  it("sort=-createdAt walks the same users in reverse", async () => {
    const forward = (await walk({ limit: "7" })).users;
    const backward = (await walk({ limit: "7", sort: "-createdAt" })).users;
    expect(backward.map((u) => u.id)).toEqual(forward.map((u) => u.id).reverse());
  });

  it("sort=updatedAt and -updatedAt order by updatedAt, each user once", async () => {
    for (const sort of ["updatedAt", "-updatedAt"]) {
      const { users } = await walk({ limit: "11", sort });
      expect(users).toHaveLength(ids.length - deleted.size);
      expect(new Set(users.map((u) => u.id)).size).toBe(users.length);
      const keys = users.map((u) => `${u.updatedAt}|${u.id}`);
      const sorted = [...keys].sort();
      expect(keys).toEqual(sort.startsWith("-") ? sorted.reverse() : sorted);
    }
    // the touched users come last in updatedAt order
    const last = (await walk({ limit: "1000", sort: "updatedAt" })).users.slice(-5);
    expect(last.every((u) => u.attributes.touched === true)).toBe(true);
  });

  it("soft-deleted users are excluded unless includeDeleted=true", async () => {
    const live = (await walk({ limit: "13" })).users.map((u) => u.id);
    expect(live.some((id) => deleted.has(id))).toBe(false);
    const all = (await walk({ limit: "13", includeDeleted: "true" })).users;
    expect(all.map((u) => u.id)).toEqual(ids);
    expect(all.filter((u) => u.status === "deleted").map((u) => u.id)).toEqual(ids.filter((id) => deleted.has(id)));
    const allDesc = (await walk({ limit: "13", includeDeleted: "true", sort: "-createdAt" })).users;
    expect(allDesc.map((u) => u.id)).toEqual([...ids].reverse());
  });

  it("limit=1000 returns everything in one page with nextCursor null", async () => {
    const response = await call("GET", "/v1/users?limit=1000&includeDeleted=true", { token: tenant.key });
    const page = await json<Page>(response);
    expect(page.data).toHaveLength(ids.length);
    expect(page.nextCursor).toBeNull();
  });

  it("the default limit is 50", async () => {
    const page = await json<Page>(await call("GET", "/v1/users", { token: tenant.key }));
    expect(page.data).toHaveLength(50);
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it("a page exactly at the end has nextCursor null (no empty trailing page)", async () => {
    const count = ids.length - deleted.size;
    const first = await json<Page>(await call("GET", `/v1/users?limit=${count}`, { token: tenant.key }));
    expect(first.data).toHaveLength(count);
    expect(first.nextCursor).toBeNull();
  });

  it("a cursor taken from another tenant's list finds nothing of ours and never leaks", async () => {
    const other = await createTenant({ name: "Users paging other" });
    const otherIds = await bulkCreate(other, 3, "other");
    const first = await json<Page>(await call("GET", "/v1/users?limit=2", { token: tenant.key }));
    const response = await call("GET", `/v1/users?limit=50&cursor=${first.nextCursor}`, { token: other.key });
    if (response.status === 200) {
      const page = await json<Page>(response);
      for (const user of page.data) expect(otherIds).toContain(user.id);
    } else {
      await expectProblem(response, 400, "INVALID_CURSOR");
    }
    const { users } = await listAll(other);
    expect(users.map((u) => u.id)).toEqual(otherIds);
  });
});
