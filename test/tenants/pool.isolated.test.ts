import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { bindingOf, count, poolDatabase, runCron, sleep, tableNames } from "../helpers/db";

// DATABASE_QUARANTINE_SECONDS and CREDENTIAL_CACHE_SECONDS are 1 in tests: a freed database rests 1 s.
const REST_MS = 1_100;
const admin = { token: ADMIN_TOKEN };

interface Slot {
  binding: string;
  tenant_id: string | null;
  claimed_at: string | null;
  released_at: string | null;
}

async function slots(): Promise<Slot[]> {
  const { results } = await env.CONTROL_DB.prepare(
    "SELECT * FROM tenant_databases ORDER BY CAST(substr(binding, 11) AS INTEGER)",
  ).all<Slot>();
  return results;
}

async function deleteTenant(tenant: TestTenant): Promise<void> {
  expect((await call("DELETE", `/v1/tenants/${tenant.id}`, admin)).status).toBe(204);
}

const alive: TestTenant[] = [];

describe("the tenant database pool", () => {
  it("a freed database rests, then serves a new tenant that sees none of the old tenant's data", async () => {
    const old = await createTenant({ name: "Old" });
    const oldBinding = await bindingOf(old.id);
    const oldUser = await createUser(old, { name: "Old user" });
    await deleteTenant(old);

    // during the rest the freed database is skipped
    const early = await createTenant({ name: "Early" });
    alive.push(early);
    expect(await bindingOf(early.id)).not.toBe(oldBinding);

    await sleep(REST_MS);
    const next = await createTenant({ name: "Next" });
    alive.push(next);
    expect(await bindingOf(next.id)).toBe(oldBinding);

    const users = await call("GET", "/v1/users", { token: next.key });
    expect(await json(users)).toEqual({ data: [], nextCursor: null });
    await expectProblem(await call("GET", `/v1/users/${oldUser.id}`, { token: next.key }), 404);
    const trail = await json<{ data: { action: string }[] }>(
      await call("GET", "/v1/audit-events", { token: next.key }),
    );
    expect(trail.data).toEqual([]);
    expect(await count(poolDatabase(oldBinding), "users")).toBe(0);
    // the old key stays dead although its database lives again
    await expectProblem(await call("GET", "/v1/users", { token: old.key }), 401, "INVALID_CREDENTIAL");
  });

  it("once every database is in use, POST /v1/tenants → 503 TENANT_POOL_EXHAUSTED and nothing is created", async () => {
    await sleep(REST_MS); // nothing resting
    const free = (await slots()).filter((s) => s.tenant_id === null).length;
    for (let i = 0; i < free; i++) alive.push(await createTenant({ name: `Filler ${i}` }));
    expect((await slots()).every((s) => s.tenant_id !== null)).toBe(true);
    expect(alive).toHaveLength((await slots()).length);

    const tenantsBefore = await count(env.CONTROL_DB, "tenants");
    const keysBefore = await count(env.CONTROL_DB, "api_key_index");
    const slotsBefore = await slots();
    const response = await call("POST", "/v1/tenants", { ...admin, body: { name: "One too many" } });
    const problem = await expectProblem(response, 503, "TENANT_POOL_EXHAUSTED");
    expect(problem.type).toBe("urn:uom:problem:tenant-pool-exhausted");
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await count(env.CONTROL_DB, "tenants")).toBe(tenantsBefore);
    expect(await count(env.CONTROL_DB, "api_key_index")).toBe(keysBefore);
    expect(await slots()).toEqual(slotsBefore);
    const audit = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM audit_events WHERE changes LIKE ?")
      .bind("%One too many%")
      .first<{ n: number }>();
    expect(audit?.n).toBe(0);
  });

  it("the daily job finishes a deletion that stopped half-way, and the database serves again", async () => {
    // A deletion that died between removing the tenant rows and freeing its database.
    const victim = alive.pop() as TestTenant;
    const binding = await bindingOf(victim.id);
    await createUser(victim);
    await env.CONTROL_DB.batch([
      env.CONTROL_DB.prepare("DELETE FROM api_key_index WHERE tenant_id = ?").bind(victim.id),
      env.CONTROL_DB.prepare("DELETE FROM tenants WHERE id = ?").bind(victim.id),
    ]);
    await expectProblem(await call("POST", "/v1/tenants", { ...admin, body: { name: "Blocked" } }), 503);

    // a recent claim might be a creation still in progress: left alone
    await runCron("17 3 * * *");
    expect((await slots()).find((s) => s.binding === binding)?.tenant_id).toBe(victim.id);

    const longAgo = new Date(Date.now() - 11 * 60 * 1000).toISOString();
    await env.CONTROL_DB.prepare("UPDATE tenant_databases SET claimed_at = ? WHERE binding = ?")
      .bind(longAgo, binding)
      .run();
    await runCron("17 3 * * *");
    const slot = (await slots()).find((s) => s.binding === binding);
    expect(slot).toMatchObject({ tenant_id: null, claimed_at: null });
    expect(slot?.released_at).not.toBeNull();
    expect(await tableNames(poolDatabase(binding))).toEqual([]);
    // the live tenants' databases were not touched
    for (const tenant of alive) {
      expect((await call("GET", "/v1/users", { token: tenant.key })).status).toBe(200);
    }

    await sleep(REST_MS);
    const reborn = await createTenant({ name: "Reborn" });
    expect(await bindingOf(reborn.id)).toBe(binding);
    expect(await json(await call("GET", "/v1/users", { token: reborn.key }))).toEqual({ data: [], nextCursor: null });
  });
});
