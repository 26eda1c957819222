import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { backgroundContext } from "../../src/core/context";
import { segmentFilter } from "../../src/modules/segments/segments.filter";
import { usersInSegment } from "../../src/modules/segments/segments.service";
import { call, createKey, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { tenantDatabase } from "../helpers/db";
import { createRole } from "../roles/support";
import { defineField } from "../schema/support";

interface Segment {
  name: string;
  kind: "saved" | "learned";
  description: string | null;
  filter: string;
  count: number | null;
}

async function save(tenant: TestTenant, body: Record<string, unknown>, token = tenant.key) {
  return call("POST", "/v1/segments", { token, body });
}

async function usersWhere(tenant: TestTenant, filter: string, token = tenant.key) {
  return call("GET", `/v1/users?filter=${encodeURIComponent(filter)}&limit=100`, { token });
}

async function idsWhere(tenant: TestTenant, filter: string): Promise<string[]> {
  const response = await usersWhere(tenant, filter);
  expect(response.status).toBe(200);
  return (await json<{ data: { id: string }[] }>(response)).data.map((u) => u.id).sort();
}

async function segmentRows(tenant: TestTenant) {
  const db = await tenantDatabase(tenant.id);
  return (await db.prepare("SELECT name, description, filter, version FROM segments ORDER BY name").all()).results;
}

async function auditActions(tenant: TestTenant) {
  const response = await call("GET", "/v1/audit-events?limit=100", { token: tenant.key });
  expect(response.status).toBe(200);
  const { data } = await json<{ data: AuditEvent[] }>(response);
  return data.filter((e) => e.resource.type === "segment");
}

/** Three users: two active ones named Staff …, one disabled. */
async function population(tenant: TestTenant) {
  const ada = await createUser(tenant, { name: "Staff member" });
  const bob = await createUser(tenant, { name: "Staff member" });
  const cy = await createUser(tenant, { status: "disabled" });
  return { ada, bob, cy };
}

describe("saved segments", () => {
  it("are created, read with a live count, changed, listed and deleted, each change audited", async () => {
    const tenant = await createTenant();
    const { ada, bob, cy } = await population(tenant);
    const created = await save(tenant, { name: "staff", description: "Our people", filter: 'name sw "staff"' });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/v1/segments/staff");
    expect(await json<Segment>(created)).toMatchObject({ name: "staff", kind: "saved", count: 2 });
    expect(await idsWhere(tenant, 'segment eq "staff"')).toEqual([ada.id, bob.id].sort());

    const read = await call("GET", "/v1/segments/staff", { token: tenant.key });
    expect(read.status).toBe(200);
    const etag = read.headers.get("etag") ?? "";
    expect(await json<Segment>(read)).toMatchObject({ description: "Our people", filter: 'name sw "staff"', count: 2 });
    expect(
      (await call("GET", "/v1/segments/staff", { token: tenant.key, headers: { "if-none-match": etag } })).status,
    ).toBe(304);

    // the count is live: a new matching user shows at once
    await createUser(tenant, { name: "Staff member" });
    const listed = await json<{ data: Segment[]; learning: { status: string } }>(
      await call("GET", "/v1/segments", { token: tenant.key }),
    );
    expect(listed.data).toEqual([expect.objectContaining({ name: "staff", count: 3 })]);
    expect(listed.learning.status).toBe("never_trained");
    const uncounted = await json<{ data: Segment[] }>(
      await call("GET", "/v1/segments?counts=false", { token: tenant.key }),
    );
    expect(uncounted.data[0]?.count).toBeNull();

    const patched = await call("PATCH", "/v1/segments/staff", {
      token: tenant.key,
      headers: { "if-match": etag },
      body: { filter: 'status eq "disabled"', description: null },
    });
    expect(patched.status).toBe(200);
    expect(await json<Segment>(patched)).toMatchObject({ filter: 'status eq "disabled"', description: null, count: 1 });
    expect(await idsWhere(tenant, 'segment eq "staff"')).toEqual([cy.id]);
    // the old ETag no longer matches
    await expectProblem(
      await call("DELETE", "/v1/segments/staff", { token: tenant.key, headers: { "if-match": etag } }),
      412,
    );

    expect((await call("DELETE", "/v1/segments/staff", { token: tenant.key })).status).toBe(204);
    await expectProblem(await call("GET", "/v1/segments/staff", { token: tenant.key }), 404, "SEGMENT_NOT_FOUND");
    expect(await segmentRows(tenant)).toEqual([]);
    const audit = await auditActions(tenant);
    expect(audit.map((e) => e.action).sort()).toEqual(["segment.created", "segment.deleted", "segment.updated"]);
    const updated = audit.find((e) => e.action === "segment.updated");
    expect(updated?.changes.filter).toEqual({ from: 'name sw "staff"', to: 'status eq "disabled"' });
  });

  it("work as `segment eq` in GET /v1/users, with and/or/not and ne", async () => {
    const tenant = await createTenant();
    const { ada, bob, cy } = await population(tenant);
    expect((await save(tenant, { name: "staff", filter: 'name sw "staff"' })).status).toBe(201);
    expect((await save(tenant, { name: "disabled", filter: 'status eq "disabled"' })).status).toBe(201);
    expect(await idsWhere(tenant, 'segment eq "staff"')).toEqual([ada.id, bob.id].sort());
    expect(await idsWhere(tenant, `segment eq "staff" and id eq "${ada.id}"`)).toEqual([ada.id]);
    expect(await idsWhere(tenant, 'segment eq "staff" or segment eq "disabled"')).toEqual(
      [ada.id, bob.id, cy.id].sort(),
    );
    expect(await idsWhere(tenant, 'not (segment eq "staff")')).toEqual([cy.id]);
    expect(await idsWhere(tenant, 'segment ne "staff"')).toEqual([cy.id]);
  });

  it("serve as an audience: usersInSegment pages a segment's users, segmentFilter is the filter to pass", async () => {
    const tenant = await createTenant();
    const { ada, bob } = await population(tenant);
    expect((await save(tenant, { name: "staff", filter: 'name sw "staff"' })).status).toBe(201);
    expect(segmentFilter("staff")).toBe('segment eq "staff"');
    const ctx = backgroundContext(env, tenant.id, await tenantDatabase(tenant.id), "test");
    const first = await usersInSegment(ctx, "staff", { limit: 1 });
    expect(first.data).toHaveLength(1);
    const second = await usersInSegment(ctx, "staff", { limit: 1, cursor: first.nextCursor ?? undefined });
    expect([first.data[0]?.id, second.data[0]?.id].sort()).toEqual([ada.id, bob.id].sort());
    expect(second.nextCursor).toBeNull();
    await expect(usersInSegment(ctx, "nope", { limit: 1 })).rejects.toMatchObject({ code: "INVALID_FILTER" });
  });

  it("an unknown segment in a users filter is 400 INVALID_FILTER naming it", async () => {
    const tenant = await createTenant();
    const problem = await expectProblem(await usersWhere(tenant, 'segment eq "nope"'), 400, "INVALID_FILTER");
    expect(problem.detail).toContain('"nope"');
    await expectProblem(await usersWhere(tenant, 'segment co "a"'), 400, "INVALID_FILTER");
    await expectProblem(await usersWhere(tenant, "segment pr"), 400, "INVALID_FILTER");
  });

  it("refuse a bad filter, a segment naming a segment, a taken or malformed name, unknown fields: nothing changes", async () => {
    const tenant = await createTenant();
    expect((await save(tenant, { name: "staff", filter: 'name sw "staff"' })).status).toBe(201);
    const before = await segmentRows(tenant);
    await expectProblem(await save(tenant, { name: "a", filter: 'status eq "x" and (' }), 400, "INVALID_FILTER");
    await expectProblem(await save(tenant, { name: "a", filter: 'nosuch eq "x"' }), 400, "INVALID_FILTER");
    await expectProblem(await save(tenant, { name: "a", filter: 'loginCount eq "many"' }), 400, "INVALID_FILTER");
    const nested = await expectProblem(
      await save(tenant, { name: "a", filter: 'segment eq "staff"' }),
      400,
      "INVALID_FILTER",
    );
    expect(nested.detail).toContain("another segment");
    await expectProblem(await save(tenant, { name: "a", filter: 'email eq "ada@example.com"' }), 400, "INVALID_FILTER");
    await expectProblem(await save(tenant, { name: "staff", filter: "status pr" }), 409, "SEGMENT_EXISTS");
    for (const name of ["", "Has-Caps", "learned:x", "-dash", "x".repeat(65), "a b"]) {
      await expectProblem(await save(tenant, { name, filter: "status pr" }), 400, "VALIDATION_FAILED");
    }
    await expectProblem(await save(tenant, { name: "a", filter: "status pr", extra: 1 }), 400, "VALIDATION_FAILED");
    await expectProblem(
      await call("PATCH", "/v1/segments/staff", { token: tenant.key, body: { filter: 'segment eq "staff"' } }),
      400,
      "INVALID_FILTER",
    );
    await expectProblem(await call("GET", "/v1/segments?count=false", { token: tenant.key }), 400);
    await expectProblem(await call("PATCH", "/v1/segments/nope", { token: tenant.key, body: {} }), 404);
    await expectProblem(await call("DELETE", "/v1/segments/learned:dormant", { token: tenant.key }), 409);
    expect(await segmentRows(tenant)).toEqual(before);
    expect((await auditActions(tenant)).map((e) => e.action)).toEqual(["segment.created"]);
  });

  it("take segments:read / segments:write (a manager reads, a basic key neither)", async () => {
    const tenant = await createTenant();
    expect((await save(tenant, { name: "all", filter: "status pr" })).status).toBe(201);
    const manager = await createKey(tenant, ["manager"]);
    const basic = await createKey(tenant, ["basic"]);
    expect((await call("GET", "/v1/segments", { token: manager.secret })).status).toBe(200);
    expect((await call("GET", "/v1/segments/all", { token: manager.secret })).status).toBe(200);
    await expectProblem(await save(tenant, { name: "b", filter: "status pr" }, manager.secret), 403, "FORBIDDEN");
    await expectProblem(
      await call("POST", "/v1/segments/learned/retrain", { token: manager.secret }),
      403,
      "FORBIDDEN",
    );
    await expectProblem(await call("GET", "/v1/segments", { token: basic.secret }), 403, "FORBIDDEN");
    await expectProblem(await call("GET", "/v1/segments"), 401);
  });

  it("never let a caller filter on a field it may not read (on write, and when used in GET /v1/users)", async () => {
    const tenant = await createTenant();
    await defineField(tenant, { name: "salary", type: "integer", restricted: true, filterable: true });
    await createUser(tenant, { attributes: { salary: 9000 } });
    expect((await save(tenant, { name: "rich", filter: "attributes.salary gt 5000" })).status).toBe(201);
    const role = await createRole(tenant, ["users:read", "segments:read", "segments:write"]);
    const writer = await createKey(tenant, [role.name]);
    const before = await segmentRows(tenant);
    const refused = await expectProblem(
      await save(tenant, { name: "rich-too", filter: "attributes.salary gt 5000" }, writer.secret),
      403,
      "FIELD_NOT_READABLE",
    );
    expect(refused.errors?.[0]?.field).toBe("attributes.salary");
    expect(await segmentRows(tenant)).toEqual(before);
    // the saved segment is expanded before the check: naming it tells no more than its filter would
    await expectProblem(await usersWhere(tenant, 'segment eq "rich"', writer.secret), 403, "FIELD_NOT_READABLE");
    expect(await idsWhere(tenant, 'segment eq "rich"')).toHaveLength(1);
    // nor does its count: null for this caller, 1 for the admin key
    const counted = async (token: string) =>
      (await json<{ data: Segment[] }>(await call("GET", "/v1/segments", { token }))).data[0]?.count;
    expect(await counted(writer.secret)).toBeNull();
    expect(await counted(tenant.key)).toBe(1);
  });

  it("are a tenant's own: another tenant neither sees nor uses them", async () => {
    const one = await createTenant();
    const other = await createTenant();
    expect((await save(one, { name: "mine", filter: "status pr" })).status).toBe(201);
    await expectProblem(await call("GET", "/v1/segments/mine", { token: other.key }), 404);
    expect((await json<{ data: Segment[] }>(await call("GET", "/v1/segments", { token: other.key }))).data).toEqual([]);
    await expectProblem(await usersWhere(other, 'segment eq "mine"'), 400, "INVALID_FILTER");
    // the same name is free in another tenant
    expect((await save(other, { name: "mine", filter: "status pr" })).status).toBe(201);
  });

  it("are not in the free plan (403 FEATURE_NOT_IN_PLAN)", async () => {
    const free = await createTenant({ plan: "free" });
    await expectProblem(await call("GET", "/v1/segments", { token: free.key }), 403, "FEATURE_NOT_IN_PLAN");
    await expectProblem(await save(free, { name: "a", filter: "status pr" }), 403, "FEATURE_NOT_IN_PLAN");
    expect(await segmentRows(free)).toEqual([]);
  });
});
