import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  type ApiTenant,
  call,
  createKey,
  createSubAccount,
  createTenant,
  createUser,
  expectProblem,
  json,
  type TestTenant,
} from "../helpers/api";
import { bindingOf, count, poolDatabase, sleep, tableNames } from "../helpers/db";

/**
 * Sub-accounts managed with a tenant's own key (docs/sub-accounts.md): POST/GET/PATCH/DELETE /v1/tenants.
 * The pool has 32 databases per test file: the tenants below serve several tests.
 */

const admin = { token: ADMIN_TOKEN };

interface Page {
  data: ApiTenant[];
  nextCursor: string | null;
}

interface WithChildren extends ApiTenant {
  children: { id: string; name: string; plan: string; users: number; requestsThisMonth: number }[];
}

const claimed = () => count(env.CONTROL_DB, "tenant_databases", "tenant_id IS NOT NULL");

let parent: TestTenant; // enterprise, level 1
let child: TestTenant; // level 2, created with parent's key
let grandchild: TestTenant; // level 3
let stranger: TestTenant; // another root tenant

beforeAll(async () => {
  parent = await createTenant({ name: "Parent Co" });
  stranger = await createTenant({ name: "Stranger" });
});

describe("POST /v1/tenants with a tenant key", () => {
  it("creates a sub-account of the key's tenant: 201, its first key, its own database", async () => {
    const response = await call("POST", "/v1/tenants", { token: parent.key, body: { name: "Sales" } });
    expect(response.status).toBe(201);
    const created = await json<ApiTenant & { apiKey: { id: string; secret: string } }>(response);
    expect(created).toMatchObject({ name: "Sales", plan: "enterprise", parentId: parent.id });
    expect(created.apiKey.secret).toMatch(/^uom_sk_/);
    expect(response.headers.get("location")).toBe(`/v1/tenants/${created.id}`);
    expect(response.headers.get("etag")).toBe('"v1"');
    child = { id: created.id, key: created.apiKey.secret, keyId: created.apiKey.id };
    expect(await bindingOf(child.id)).not.toBe(await bindingOf(parent.id));

    // isolated like any tenant: users of one are not the other's
    const inChild = await createUser(child, { name: "Child user" });
    const inParent = await createUser(parent, { name: "Parent user" });
    const parentUsers = await json<{ data: { id: string }[] }>(await call("GET", "/v1/users", { token: parent.key }));
    const childUsers = await json<{ data: { id: string }[] }>(await call("GET", "/v1/users", { token: child.key }));
    expect(parentUsers.data.map((u) => u.id)).toEqual([inParent.id]);
    expect(childUsers.data.map((u) => u.id)).toEqual([inChild.id]);
    await expectProblem(await call("GET", `/v1/users/${inChild.id}`, { token: parent.key }), 404);

    // the platform trail records who created it: the parent's key
    const audited = await env.CONTROL_DB.prepare(
      "SELECT actor_type, actor_id FROM audit_events WHERE resource_id = ? AND action = 'tenant.created'",
    )
      .bind(child.id)
      .first<{ actor_type: string; actor_id: string }>();
    expect(audited).toEqual({ actor_type: "api_key", actor_id: parent.keyId });
  });

  it("the plan defaults to the parent's and may not exceed it (400 on plan, nothing claimed)", async () => {
    const free = await createTenant({ name: "Free parent", plan: "free" });
    const before = await claimed();
    const problem = await expectProblem(
      await call("POST", "/v1/tenants", { token: free.key, body: { name: "Upgraded", plan: "pro" } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: "plan", code: "exceeds_parent" })]);
    expect(await claimed()).toBe(before);

    const response = await call("POST", "/v1/tenants", { token: free.key, body: { name: "Same plan" } });
    expect(response.status).toBe(201);
    expect(await json(response)).toMatchObject({ plan: "free", parentId: free.id });
    // below the parent's plan is fine
    const lower = await call("POST", "/v1/tenants", { token: parent.key, body: { name: "Lower", plan: "pro" } });
    expect(lower.status).toBe(201);
    expect(await json(lower)).toMatchObject({ plan: "pro", parentId: parent.id });
  });

  it("the parent's plan bounds its sub-accounts (free: 2); concurrent creations cannot overshoot", async () => {
    const free = await createTenant({ name: "Free quota", plan: "free" });
    const responses = await Promise.all(
      ["One", "Two", "Three"].map((name) => call("POST", "/v1/tenants", { token: free.key, body: { name } })),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([201, 201, 403]);
    const refused = responses.find((r) => r.status === 403) as Response;
    const problem = await expectProblem(refused, 403, "QUOTA_EXCEEDED");
    expect(problem).toMatchObject({ quota: "subAccounts", plan: "free", limit: 2, used: 2 });
    expect(await count(env.CONTROL_DB, "tenants", "parent_id = ?", free.id)).toBe(2);

    const before = await claimed();
    await expectProblem(
      await call("POST", "/v1/tenants", { token: free.key, body: { name: "Four" } }),
      403,
      "QUOTA_EXCEEDED",
    );
    expect(await claimed()).toBe(before);
  });

  it("nests at most 3 levels: under level 3 → 409 SUB_ACCOUNT_DEPTH_EXCEEDED, for the admin too", async () => {
    const response = await call("POST", "/v1/tenants", {
      token: parent.key,
      body: { name: "Team", parentId: child.id },
    });
    expect(response.status).toBe(201);
    const created = await json<ApiTenant & { apiKey: { id: string; secret: string } }>(response);
    expect(created.parentId).toBe(child.id);
    grandchild = { id: created.id, key: created.apiKey.secret, keyId: created.apiKey.id };

    const before = await claimed();
    for (const [token, body] of [
      [parent.key, { name: "Too deep", parentId: grandchild.id }],
      [grandchild.key, { name: "Too deep" }],
      [ADMIN_TOKEN, { name: "Too deep", parentId: grandchild.id }],
    ] as const) {
      const problem = await expectProblem(
        await call("POST", "/v1/tenants", { token, body }),
        409,
        "SUB_ACCOUNT_DEPTH_EXCEEDED",
      );
      expect(problem).toMatchObject({ maxDepth: 3 });
    }
    expect(await claimed()).toBe(before);
  });

  it("parentId must be the key's tenant or one of its sub-accounts: anything else → 404", async () => {
    const before = await count(env.CONTROL_DB, "tenants");
    for (const [token, parentId] of [
      [parent.key, stranger.id],
      [child.key, parent.id],
      [grandchild.key, child.id],
      [parent.key, "ten_unknown"],
    ] as const) {
      await expectProblem(
        await call("POST", "/v1/tenants", { token, body: { name: "Elsewhere", parentId } }),
        404,
        "TENANT_NOT_FOUND",
      );
    }
    expect(await count(env.CONTROL_DB, "tenants")).toBe(before);
  });
});

describe("GET /v1/tenants and /v1/tenants/{id} with a tenant key", () => {
  it("lists its direct sub-accounts, or those of one of its sub-accounts; anything else → 404", async () => {
    const own = await json<Page>(await call("GET", "/v1/tenants", { token: parent.key }));
    expect(own.data.every((t) => t.parentId === parent.id)).toBe(true);
    expect(own.data.map((t) => t.id)).toContain(child.id);
    expect(own.data.map((t) => t.id)).not.toContain(grandchild.id);

    const below = await json<Page>(await call("GET", `/v1/tenants?parentId=${child.id}`, { token: parent.key }));
    expect(below.data.map((t) => t.id)).toEqual([grandchild.id]);
    expect(await json<Page>(await call("GET", "/v1/tenants", { token: grandchild.key }))).toEqual({
      data: [],
      nextCursor: null,
    });

    await expectProblem(await call("GET", `/v1/tenants?parentId=${parent.id}`, { token: child.key }), 404);
    await expectProblem(await call("GET", `/v1/tenants?parentId=${stranger.id}`, { token: parent.key }), 404);

    // the admin filters by parent too
    const byAdmin = await json<Page>(await call("GET", `/v1/tenants?parentId=${child.id}`, admin));
    expect(byAdmin.data.map((t) => t.id)).toEqual([grandchild.id]);
  });

  it("pages through sub-accounts with a cursor bound to the parent", async () => {
    const first = await json<Page>(await call("GET", "/v1/tenants?limit=1", { token: parent.key }));
    expect(first.data).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const cursor = encodeURIComponent(first.nextCursor as string);
    const second = await json<Page>(await call("GET", `/v1/tenants?limit=1&cursor=${cursor}`, { token: parent.key }));
    expect(second.data[0]?.id).not.toBe(first.data[0]?.id);
    // the same cursor on another list is refused
    await expectProblem(
      await call("GET", `/v1/tenants?limit=1&cursor=${cursor}&parentId=${child.id}`, { token: parent.key }),
      400,
      "INVALID_CURSOR",
    );
  });

  it("reads its own tenant and its sub-accounts with the children's rollup; any other id → 404", async () => {
    const deleted = await createUser(child, { name: "Soon deleted" });
    expect((await call("DELETE", `/v1/users/${deleted.id}`, { token: child.key })).status).toBe(200);

    const response = await call("GET", `/v1/tenants/${parent.id}`, { token: parent.key });
    expect(response.status).toBe(200);
    const etag = response.headers.get("etag") as string;
    expect(etag).toBe('"v1"');
    const read = await json<WithChildren>(response);
    expect(read).toMatchObject({ id: parent.id, parentId: null });
    // one live user in the child (the soft-deleted one does not count); its requests as its usage meter has them
    expect(read.children.find((c) => c.id === child.id)).toEqual({
      id: child.id,
      name: "Sales",
      plan: "enterprise",
      users: 1,
      requestsThisMonth: expect.any(Number),
    });
    expect(read.children.map((c) => c.id)).not.toContain(grandchild.id);
    const cached = await call("GET", `/v1/tenants/${parent.id}`, {
      token: parent.key,
      headers: { "If-None-Match": etag },
    });
    expect(cached.status).toBe(304);

    const deep = await json<WithChildren>(await call("GET", `/v1/tenants/${grandchild.id}`, { token: parent.key }));
    expect(deep).toMatchObject({ id: grandchild.id, parentId: child.id, children: [] });
    const byAdmin = await json<WithChildren>(await call("GET", `/v1/tenants/${child.id}`, admin));
    expect(byAdmin.children).toEqual([
      { id: grandchild.id, name: "Team", plan: "enterprise", users: 0, requestsThisMonth: expect.any(Number) },
    ]);

    for (const [token, id] of [
      [child.key, parent.id],
      [grandchild.key, child.id],
      [stranger.key, child.id],
      [parent.key, stranger.id],
    ] as const) {
      await expectProblem(await call("GET", `/v1/tenants/${id}`, { token }), 404, "TENANT_NOT_FOUND");
    }
  });
});

describe("the rollup's request counts", () => {
  it("counts each sub-account's own requests this month (its usage meter, sent by the isolate within seconds)", async () => {
    const counted = await createSubAccount(parent, { name: "Counted" });
    for (let i = 0; i < 3; i++) expect((await call("GET", "/v1/users", { token: counted.key })).status).toBe(200);
    let requests = 0;
    for (let tries = 0; tries < 40 && requests < 3; tries++) {
      await sleep(100);
      const read = await json<WithChildren>(await call("GET", `/v1/tenants/${parent.id}`, { token: parent.key }));
      requests = read.children.find((c) => c.id === counted.id)?.requestsThisMonth ?? 0;
    }
    // the parent's own reads count for the parent, not for its sub-account
    expect(requests).toBe(3);
  });
});

describe("PATCH /v1/tenants/{id} with a tenant key", () => {
  it("renames its tenant or a sub-account; a plan change is the platform's (403)", async () => {
    const renamed = await call("PATCH", `/v1/tenants/${child.id}`, {
      token: parent.key,
      body: { name: "Field sales" },
      headers: { "If-Match": '"v1"' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.headers.get("etag")).toBe('"v2"');
    expect(await json(renamed)).toMatchObject({ id: child.id, name: "Field sales" });
    const self = await call("PATCH", `/v1/tenants/${child.id}`, { token: child.key, body: { name: "Sales" } });
    expect(self.status).toBe(200);

    const problem = await expectProblem(
      await call("PATCH", `/v1/tenants/${child.id}`, { token: parent.key, body: { plan: "free" } }),
      403,
      "FORBIDDEN",
    );
    expect(problem.detail).toContain("POST /v1/plan/change-requests");
    await expectProblem(
      await call("PATCH", `/v1/tenants/${parent.id}`, { token: parent.key, body: { plan: "pro" } }),
      403,
      "FORBIDDEN",
    );
    // naming the plan it has changes nothing, and is no plan change
    const same = await call("PATCH", `/v1/tenants/${child.id}`, { token: parent.key, body: { plan: "enterprise" } });
    expect(same.status).toBe(200);
    expect(same.headers.get("etag")).toBe('"v3"');

    await expectProblem(
      await call("PATCH", `/v1/tenants/${parent.id}`, { token: child.key, body: { name: "Hijacked" } }),
      404,
      "TENANT_NOT_FOUND",
    );
    const read = await json<ApiTenant>(await call("GET", `/v1/tenants/${parent.id}`, admin));
    expect(read).toMatchObject({ name: "Parent Co", plan: "enterprise" });
  });
});

describe("DELETE /v1/tenants/{id} with a tenant key", () => {
  it("never its own tenant (403), never its parent's (404)", async () => {
    await expectProblem(await call("DELETE", `/v1/tenants/${child.id}`, { token: child.key }), 403, "FORBIDDEN");
    await expectProblem(
      await call("DELETE", `/v1/tenants/${parent.id}`, { token: child.key }),
      404,
      "TENANT_NOT_FOUND",
    );
    expect((await call("GET", `/v1/tenants/${child.id}`, admin)).status).toBe(200);
  });

  it("a sub-account with sub-accounts → 409; cascade=true deletes the subtree, databases freed, keys dead", async () => {
    const root = await createTenant({ name: "Cascade root" });
    const branch = await createSubAccount(root, { name: "Branch" });
    const leaf = await createSubAccount(branch, { name: "Leaf" });
    await createUser(leaf, { name: "Leaf user" });
    const bindings = [await bindingOf(branch.id), await bindingOf(leaf.id)];

    await expectProblem(
      await call("DELETE", `/v1/tenants/${branch.id}`, { token: root.key }),
      409,
      "TENANT_HAS_CHILDREN",
    );
    await expectProblem(
      await call("DELETE", `/v1/tenants/${branch.id}?cascade=false`, { token: root.key }),
      409,
      "TENANT_HAS_CHILDREN",
    );
    expect((await call("GET", "/v1/users", { token: leaf.key })).status).toBe(200);

    const deleted = await call("DELETE", `/v1/tenants/${branch.id}?cascade=true`, { token: root.key });
    expect(deleted.status).toBe(204);
    for (const gone of [branch, leaf]) {
      await expectProblem(await call("GET", `/v1/tenants/${gone.id}`, admin), 404, "TENANT_NOT_FOUND");
      await expectProblem(await call("GET", "/v1/users", { token: gone.key }), 401, "INVALID_CREDENTIAL");
    }
    for (const binding of bindings) {
      expect(await tableNames(poolDatabase(binding))).toEqual([]);
      const slot = await env.CONTROL_DB.prepare("SELECT tenant_id FROM tenant_databases WHERE binding = ?")
        .bind(binding)
        .first<{ tenant_id: string | null }>();
      expect(slot?.tenant_id).toBeNull();
    }
    const audited = await env.CONTROL_DB.prepare(
      "SELECT resource_id, actor_id FROM audit_events WHERE action = 'tenant.deleted' AND resource_id IN (?, ?)",
    )
      .bind(branch.id, leaf.id)
      .all<{ resource_id: string; actor_id: string }>();
    expect(audited.results.map((r) => r.resource_id).sort()).toEqual([branch.id, leaf.id].sort());
    expect(audited.results.every((r) => r.actor_id === root.keyId)).toBe(true);
    // the root stays
    expect((await call("GET", "/v1/users", { token: root.key })).status).toBe(200);
  });

  it("the admin cascades too; a stale If-Match deletes nothing", async () => {
    const root = await createTenant({ name: "Admin cascade" });
    const branch = await createSubAccount(root, { name: "Branch" });
    await expectProblem(
      await call("DELETE", `/v1/tenants/${root.id}?cascade=true`, { ...admin, headers: { "If-Match": '"v9"' } }),
      412,
      "PRECONDITION_FAILED",
    );
    expect((await call("GET", `/v1/tenants/${branch.id}`, admin)).status).toBe(200);
    const deleted = await call("DELETE", `/v1/tenants/${root.id}?cascade=true`, {
      ...admin,
      headers: { "If-Match": '"v1"' },
    });
    expect(deleted.status).toBe(204);
    await expectProblem(await call("GET", `/v1/tenants/${branch.id}`, admin), 404, "TENANT_NOT_FOUND");
    await expectProblem(await call("GET", `/v1/tenants/${root.id}`, admin), 404, "TENANT_NOT_FOUND");
  });

  it("a key without tenants:write (manager) cannot manage sub-accounts: 403", async () => {
    const manager = await createKey(parent, ["manager"]);
    await expectProblem(await call("DELETE", `/v1/tenants/${child.id}`, { token: manager.secret }), 403, "FORBIDDEN");
    await expectProblem(await call("GET", `/v1/tenants/${child.id}`, { token: manager.secret }), 403, "FORBIDDEN");
  });
});
