import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createTenant,
  createUser,
  expectProblem,
  json,
  type ApiTenant as Tenant,
  type TestTenant,
} from "../helpers/api";
import { bindingOf, poolDatabase, tableNames } from "../helpers/db";

interface Page {
  data: Tenant[];
  nextCursor: string | null;
}

const admin = { token: ADMIN_TOKEN };
// The pool has 8 databases per test file: the listed tenants serve the later tests too.
const listed: TestTenant[] = [];

function listedTenant(index: number): TestTenant {
  const tenant = listed[index];
  if (!tenant) throw new Error("the list test creates the tenants the later tests use");
  return tenant;
}

describe("GET /v1/tenants", () => {
  it("walks every tenant exactly once with cursor paging, oldest first", async () => {
    for (const name of ["List 1", "List 2", "List 3"]) listed.push(await createTenant({ name, plan: "free" }));
    const { results } = await env.CONTROL_DB.prepare("SELECT id FROM tenants ORDER BY created_at, id").all<{
      id: string;
    }>();
    expect(results.length).toBeGreaterThanOrEqual(3);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
      const response = await call("GET", `/v1/tenants${query}`, admin);
      expect(response.status).toBe(200);
      const page = await json<Page>(response);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((t) => t.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(results.map((r) => r.id));
    expect(pages).toBe(Math.ceil(results.length / 2));
  });

  it("refuses a limit outside 1–1000 and a cursor that is not its own", async () => {
    for (const limit of ["0", "1001", "abc", "-1"]) {
      const problem = await expectProblem(await call("GET", `/v1/tenants?limit=${limit}`, admin), 400);
      expect(problem.errors?.[0]?.field).toBe("limit");
    }
    await expectProblem(await call("GET", "/v1/tenants?cursor=not-a-cursor", admin), 400, "INVALID_CURSOR");
    const auditCursor = btoa(JSON.stringify(["audit", 5])).replace(/=+$/, "");
    await expectProblem(await call("GET", `/v1/tenants?cursor=${auditCursor}`, admin), 400, "INVALID_CURSOR");
  });
});

describe("GET /v1/tenants/{id}", () => {
  it("carries an ETag and answers If-None-Match with 304", async () => {
    const tenant = listedTenant(0);
    const response = await call("GET", `/v1/tenants/${tenant.id}`, admin);
    expect(response.status).toBe(200);
    const etag = response.headers.get("etag");
    expect(etag).toBe('"v1"');

    for (const ifNoneMatch of [etag as string, `W/${etag}`, `"v9", ${etag}`, "*"]) {
      const cached = await call("GET", `/v1/tenants/${tenant.id}`, {
        ...admin,
        headers: { "If-None-Match": ifNoneMatch },
      });
      expect(cached.status, ifNoneMatch).toBe(304);
      expect(cached.headers.get("etag")).toBe(etag);
      expect(await cached.text()).toBe("");
    }
    const stale = await call("GET", `/v1/tenants/${tenant.id}`, { ...admin, headers: { "If-None-Match": '"v0"' } });
    expect(stale.status).toBe(200);
  });

  it("an unknown tenant → 404 TENANT_NOT_FOUND", async () => {
    await expectProblem(await call("GET", "/v1/tenants/ten_unknown", admin), 404, "TENANT_NOT_FOUND");
  });
});

describe("PATCH /v1/tenants/{id}", () => {
  it("renames and changes the plan, bumping the ETag; If-Match guards against lost updates", async () => {
    const tenant = listedTenant(1);
    const path = `/v1/tenants/${tenant.id}`;

    const renamed = await call("PATCH", path, { ...admin, body: { name: "After" }, headers: { "If-Match": '"v1"' } });
    expect(renamed.status).toBe(200);
    expect(renamed.headers.get("etag")).toBe('"v2"');
    const afterRename = await json<Tenant>(renamed);
    expect(afterRename).toMatchObject({ id: tenant.id, name: "After", plan: "free" });
    expect(afterRename.updatedAt > afterRename.createdAt).toBe(true);

    const upgraded = await call("PATCH", path, {
      ...admin,
      rawBody: JSON.stringify({ plan: "pro" }),
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(upgraded.status).toBe(200);
    expect(upgraded.headers.get("etag")).toBe('"v3"');
    expect(await json(upgraded)).toMatchObject({ name: "After", plan: "pro" });

    // a client still holding v2 loses: 412, and nothing changes
    const stale = await call("PATCH", path, { ...admin, body: { name: "Lost" }, headers: { "If-Match": '"v2"' } });
    const problem = await expectProblem(stale, 412, "PRECONDITION_FAILED");
    expect(problem.detail).toMatch(/v2/);
    expect(stale.headers.get("etag")).toBe('"v3"');
    const read = await call("GET", path, admin);
    expect(read.headers.get("etag")).toBe('"v3"');
    expect(await json(read)).toMatchObject({ name: "After", plan: "pro" });

    // a patch that changes nothing changes no version
    const same = await call("PATCH", path, { ...admin, body: { plan: "pro" } });
    expect(same.status).toBe(200);
    expect(same.headers.get("etag")).toBe('"v3"');
  });

  it("concurrent patches without If-Match all apply, one after the other, each audited once", async () => {
    const tenant = listedTenant(0);
    const path = `/v1/tenants/${tenant.id}`;
    const before = Number((await call("GET", path, admin)).headers.get("etag")?.slice(2, -1));
    // with n racers a request loses at most n - 1 times: within the service's 3 attempts
    const names = ["Racer 1", "Racer 2", "Racer 3"];
    const responses = await Promise.all(names.map((name) => call("PATCH", path, { ...admin, body: { name } })));
    expect(responses.map((r) => r.status)).toEqual(names.map(() => 200));
    const read = await call("GET", path, admin);
    expect(read.headers.get("etag")).toBe(`"v${before + names.length}"`);
    expect(names).toContain((await json<Tenant>(read)).name);
    const audited = await env.CONTROL_DB.prepare(
      "SELECT changes FROM audit_events WHERE resource_id = ? AND action = 'tenant.updated' AND changes LIKE '%Racer%'",
    )
      .bind(tenant.id)
      .all<{ changes: string }>();
    expect(audited.results).toHaveLength(names.length);
  });

  it("refuses unknown fields, bad plans and unknown tenants, changing nothing", async () => {
    const tenant = listedTenant(2);
    const path = `/v1/tenants/${tenant.id}`;
    const unknown = await expectProblem(await call("PATCH", path, { ...admin, body: { parentId: "x" } }), 400);
    expect(unknown.errors).toEqual([expect.objectContaining({ field: "parentId", code: "unknown_field" })]);
    const plan = await expectProblem(await call("PATCH", path, { ...admin, body: { plan: "gold" } }), 400);
    expect(plan.errors?.map((e) => e.field)).toEqual(["plan"]);
    const read = await call("GET", path, admin);
    expect(read.headers.get("etag")).toBe('"v1"');
    expect(await json(read)).toMatchObject({ name: "List 3", plan: "free" });
    await expectProblem(
      await call("PATCH", "/v1/tenants/ten_unknown", { ...admin, body: { name: "x" } }),
      404,
      "TENANT_NOT_FOUND",
    );
  });
});

describe("DELETE /v1/tenants/{id}", () => {
  it("→ 204; its key stops working, the tenant is gone and its database is erased and freed", async () => {
    const tenant = await createTenant({ name: "Doomed" });
    await createUser(tenant, { name: "Soon gone" });
    const binding = await bindingOf(tenant.id);
    const db = poolDatabase(binding);
    // tables whose names the erase query's LIKE patterns could mistake for SQLite's or D1's own
    await db.batch([db.prepare("CREATE TABLE acfb (x)"), db.prepare("CREATE TABLE sqlitex (x)")]);
    expect(await tableNames(db)).toEqual(expect.arrayContaining(["users", "audit_events", "acfb", "sqlitex"]));

    // stale If-Match first: refused, nothing deleted
    await expectProblem(
      await call("DELETE", `/v1/tenants/${tenant.id}`, { ...admin, headers: { "If-Match": '"v7"' } }),
      412,
      "PRECONDITION_FAILED",
    );
    expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);

    const deleted = await call("DELETE", `/v1/tenants/${tenant.id}`, { ...admin, headers: { "If-Match": '"v1"' } });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe("");

    await expectProblem(await call("GET", "/v1/users", { token: tenant.key }), 401, "INVALID_CREDENTIAL");
    await expectProblem(await call("GET", `/v1/tenants/${tenant.id}`, admin), 404, "TENANT_NOT_FOUND");
    await expectProblem(await call("DELETE", `/v1/tenants/${tenant.id}`, admin), 404, "TENANT_NOT_FOUND");
    expect(await tableNames(db)).toEqual([]);
    const slot = await env.CONTROL_DB.prepare("SELECT * FROM tenant_databases WHERE binding = ?")
      .bind(binding)
      .first<{ tenant_id: string | null; released_at: string | null }>();
    expect(slot?.tenant_id).toBeNull();
    expect(Date.now() - Date.parse(slot?.released_at ?? "")).toBeLessThan(60_000);
    const keys = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM api_key_index WHERE tenant_id = ?")
      .bind(tenant.id)
      .first<{ n: number }>();
    expect(keys?.n).toBe(0);
  });

  it("of two concurrent deletions one wins and the other is a 404; the trail records one", async () => {
    const tenant = await createTenant({ name: "Deleted twice" });
    const responses = await Promise.all([
      call("DELETE", `/v1/tenants/${tenant.id}`, admin),
      call("DELETE", `/v1/tenants/${tenant.id}`, admin),
    ]);
    expect(responses.map((r) => r.status).sort()).toEqual([204, 404]);
    const audited = await env.CONTROL_DB.prepare(
      "SELECT count(*) AS n FROM audit_events WHERE resource_id = ? AND action = 'tenant.deleted'",
    )
      .bind(tenant.id)
      .first<{ n: number }>();
    expect(audited?.n).toBe(1);
  });

  it("a parent with sub-accounts → 409 TENANT_HAS_CHILDREN; once they are gone it can go", async () => {
    const parent = await createTenant({ name: "Parent" });
    const child = await createTenant({ name: "Child", parentId: parent.id });
    await expectProblem(await call("DELETE", `/v1/tenants/${parent.id}`, admin), 409, "TENANT_HAS_CHILDREN");
    expect((await call("GET", "/v1/users", { token: parent.key })).status).toBe(200);

    expect((await call("DELETE", `/v1/tenants/${child.id}`, admin)).status).toBe(204);
    expect((await call("DELETE", `/v1/tenants/${parent.id}`, admin)).status).toBe(204);
  });
});
