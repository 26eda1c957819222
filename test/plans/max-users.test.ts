import { describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, uniqueEmail } from "../helpers/api";
import { count, dumpDatabase, tenantDatabase } from "../helpers/db";
import { bulkCreate } from "./support";

describe("maxUsers", () => {
  it("free (1,000): creates up to the limit; beyond it single creates are 403 and bulk items fail alone", async () => {
    const tenant = await createTenant({ name: "Max users", plan: "free" });
    const db = await tenantDatabase(tenant.id);
    const started = Date.now();
    const first = await bulkCreate(tenant, 997, "fill");
    expect(first.every((r) => r.status === 201)).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000);
    const [deleted] = first;

    // 997 stored; of 5 creates (and an update between them) the first 3 fit, the last 2 are over the quota
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail("fits") } },
          { op: "create", data: { email: "not an email" } },
          { op: "create", data: { email: uniqueEmail("fits") } },
          { op: "update", id: deleted?.id, data: { name: "Still changeable" } },
          { op: "create", data: { email: uniqueEmail("fits") } },
          { op: "create", data: { email: uniqueEmail("over") } },
          { op: "create", data: { email: uniqueEmail("over") } },
        ],
      },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: { status: number; error?: Record<string, unknown> }[] }>(response);
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [201, undefined],
      [400, "VALIDATION_FAILED"], // an invalid create uses no room
      [201, undefined],
      [200, undefined],
      [201, undefined],
      [403, "QUOTA_EXCEEDED"],
      [403, "QUOTA_EXCEEDED"],
    ]);
    expect(results[5]?.error).toMatchObject({ quota: "maxUsers", plan: "free", limit: 1000, used: 1000 });
    expect(await count(db, "users")).toBe(1000);

    // a single create: 403 with the limit and usage, and nothing written (no user, no audit event)
    const before = await dumpDatabase(db);
    const refused = await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("single") } }),
      403,
      "QUOTA_EXCEEDED",
    );
    expect(refused).toMatchObject({ quota: "maxUsers", plan: "free", limit: 1000, used: 1000 });
    expect(await dumpDatabase(db)).toBe(before);

    // atomic bulk: the creates beyond the limit fail the whole request
    const atomic = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: { atomic: true, operations: [{ op: "create", data: { email: uniqueEmail("atomic") } }] },
    });
    const problem = await expectProblem(atomic, 422, "BULK_ATOMIC_FAILED");
    expect(problem.errors).toEqual([expect.objectContaining({ index: 0, code: "QUOTA_EXCEEDED" })]);

    // a soft-deleted user still counts (it can be restored); a purged one frees its place
    expect((await call("DELETE", `/v1/users/${deleted?.id}`, { token: tenant.key })).status).toBe(200);
    await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("single") } }),
      403,
      "QUOTA_EXCEEDED",
    );
    const restored = await call("POST", `/v1/users/${deleted?.id}/restore`, { token: tenant.key });
    expect(restored.status).toBe(200);
    expect((await call("DELETE", `/v1/users/${deleted?.id}?permanent=true`, { token: tenant.key })).status).toBe(204);
    expect(
      (await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("single") } })).status,
    ).toBe(201);
  }, 60_000);

  it("SCIM POST /Users at the limit answers a SCIM 403 error; nothing is written", async () => {
    const tenant = await createTenant({ name: "SCIM at the limit", plan: "pro" });
    const db = await tenantDatabase(tenant.id);
    // pro allows 100,000 users: stored directly, as bare rows (the quota counts rows, whatever they hold)
    const started = Date.now();
    await db
      .prepare(
        `INSERT INTO users (id, email_ct, email_bidx, status, created_at, updated_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         SELECT printf('usr_seed%08d', i), 'x', printf('seed%08d', i), 'active', '2026-01-01T00:00:00.000Z',
                '2026-01-01T00:00:00.000Z' FROM n`,
      )
      .run();
    expect(Date.now() - started).toBeLessThan(20_000);
    const before = await count(db, "users");
    const response = await call("POST", "/scim/v2/Users", {
      token: tenant.key,
      headers: { "content-type": "application/scim+json" },
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: uniqueEmail("scim") },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    const error = await json<{ schemas: string[]; status: string; detail: string }>(response);
    expect(error).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "403" });
    expect(error.detail).toContain("100000 (maxUsers); 100000 are used");
    expect(await count(db, "users")).toBe(before);
  }, 60_000);
});
