import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { count } from "../helpers/db";

interface Page {
  data: AuditEvent[];
  nextCursor: string | null;
}

const admin = { token: ADMIN_TOKEN };

async function events(query = "", token = ADMIN_TOKEN): Promise<AuditEvent[]> {
  const response = await call("GET", `/v1/audit-events${query}`, { token });
  expect(response.status).toBe(200);
  return (await json<Page>(response)).data;
}

let kept: TestTenant;
let gone: TestTenant;
const renameRequestId = "rename-request-0001";

beforeAll(async () => {
  kept = await createTenant({ name: "Kept", plan: "free" });
  gone = await createTenant({ name: "Gone", plan: "pro" });
  const patch = await call("PATCH", `/v1/tenants/${kept.id}`, {
    ...admin,
    body: { name: "Kept renamed" },
    headers: { "X-Request-Id": renameRequestId, "User-Agent": "audit-test/1.0" },
  });
  expect(patch.status).toBe(200);
  expect((await call("PATCH", `/v1/tenants/${kept.id}`, { ...admin, body: { plan: "enterprise" } })).status).toBe(200);
  expect((await call("DELETE", `/v1/tenants/${gone.id}`, admin)).status).toBe(204);
});

describe("the platform audit trail (admin token)", () => {
  it("records tenant.created, api_key.created, tenant.updated and tenant.deleted, by the admin", async () => {
    const all = await events("?limit=1000");
    const of = (action: string, resourceId: string) =>
      all.filter((e) => e.action === action && e.resource.id === resourceId);

    expect(of("tenant.created", kept.id)).toEqual([
      expect.objectContaining({
        actor: { type: "admin", id: "admin" },
        resource: { type: "tenant", id: kept.id },
        changes: {
          name: { from: null, to: "Kept" },
          plan: { from: null, to: "free" },
        },
      }),
    ]);
    expect(of("api_key.created", kept.keyId)).toEqual([
      expect.objectContaining({
        actor: { type: "admin", id: "admin" },
        resource: { type: "api_key", id: kept.keyId },
        changes: expect.objectContaining({ tenantId: { from: null, to: kept.id } }),
      }),
    ]);
    const updates = of("tenant.updated", kept.id);
    expect(updates.map((e) => e.changes)).toEqual([
      { plan: { from: "free", to: "enterprise" } },
      { name: { from: "Kept", to: "Kept renamed" } },
    ]);
    expect(updates[1]).toMatchObject({ requestId: renameRequestId, userAgent: "audit-test/1.0" });
    expect(of("tenant.deleted", gone.id)).toEqual([
      expect.objectContaining({
        actor: { type: "admin", id: "admin" },
        changes: { name: { from: "Gone", to: null }, plan: { from: "pro", to: null } },
      }),
    ]);

    for (const event of all) {
      expect(event.id).toMatch(/^aud_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(event.actor).toEqual({ type: "admin", id: "admin" });
      expect(event.requestId).toEqual(expect.any(String));
      expect(event.hash, "listing seals every event").toMatch(/^[0-9a-f]{64}$/);
    }
    // no key material in the trail
    expect(JSON.stringify(all)).not.toContain(kept.key.slice(7, -6));
  });

  it("every event's requestId is the X-Request-Id of the request that made it", async () => {
    const response = await call("PATCH", `/v1/tenants/${kept.id}`, { ...admin, body: { name: "Traced" } });
    const requestId = response.headers.get("x-request-id");
    const [latest] = await events("?limit=1");
    expect(latest).toMatchObject({ action: "tenant.updated", requestId });
  });

  it("filters by resourceId, action and actorId", async () => {
    const byResource = await events(`?resourceId=${kept.id}`);
    expect(byResource.length).toBeGreaterThanOrEqual(3);
    expect(byResource.every((e) => e.resource.id === kept.id)).toBe(true);

    const byAction = await events("?action=tenant.deleted");
    expect(byAction.map((e) => e.resource.id)).toEqual([gone.id]);

    const all = await events("?limit=1000");
    expect(await events("?actorId=admin&limit=1000")).toEqual(all);
    expect(await events("?actorId=key_nobody")).toEqual([]);
    expect(await events(`?resourceId=${kept.id}&action=tenant.created`)).toHaveLength(1);
  });

  it("filters by since (inclusive) and until (exclusive), with any RFC 3339 offset", async () => {
    const all = await events("?limit=1000");
    const pivot = all.find((e) => e.action === "tenant.deleted") as AuditEvent;
    const since = await events(`?limit=1000&since=${encodeURIComponent(pivot.createdAt)}`);
    const until = await events(`?limit=1000&until=${encodeURIComponent(pivot.createdAt)}`);
    expect(since.map((e) => e.id)).toContain(pivot.id);
    expect(until.map((e) => e.id)).not.toContain(pivot.id);
    expect(since.every((e) => e.createdAt >= pivot.createdAt)).toBe(true);
    expect(until.every((e) => e.createdAt < pivot.createdAt)).toBe(true);
    expect(since.length + until.length).toBe(all.length);

    // the same instant written with an offset
    const instant = new Date(pivot.createdAt);
    const shifted = new Date(instant.getTime() + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    expect(await events(`?limit=1000&since=${encodeURIComponent(shifted)}`)).toEqual(since);

    expect(await events("?since=2999-01-01T00:00:00Z")).toEqual([]);
  });

  it("refuses an invalid since/until/limit with 400 naming the parameter", async () => {
    for (const [query, field] of [
      ["?since=yesterday", "since"],
      ["?until=2026-13-01T00:00:00Z", "until"],
      ["?since=2026-01-01", "since"],
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
    ]) {
      const problem = await expectProblem(await call("GET", `/v1/audit-events${query}`, admin), 400);
      expect(
        problem.errors?.map((e) => e.field),
        query,
      ).toEqual([field]);
    }
    await expectProblem(await call("GET", "/v1/audit-events?cursor=xyz", admin), 400, "INVALID_CURSOR");
  });

  it("pages newest first with a cursor, visiting every event once", async () => {
    const all = await events("?limit=1000");
    expect(all.length).toBeGreaterThanOrEqual(6);
    const seen: AuditEvent[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await json<Page>(await call("GET", `/v1/audit-events${query}`, admin));
      seen.push(...page.data);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    for (let i = 1; i < seen.length; i++) {
      expect((seen[i - 1] as AuditEvent).createdAt >= (seen[i] as AuditEvent).createdAt).toBe(true);
    }
    // a filter applies across pages too
    const first = await json<Page>(await call("GET", `/v1/audit-events?limit=1&resourceId=${kept.id}`, admin));
    const second = await json<Page>(
      await call("GET", `/v1/audit-events?limit=1&resourceId=${kept.id}&cursor=${first.nextCursor}`, admin),
    );
    expect(second.data[0]?.resource.id).toBe(kept.id);
    expect(second.data[0]?.id).not.toBe(first.data[0]?.id);
  });

  it("verify → intact, having checked every event", async () => {
    const total = await count(env.CONTROL_DB, "audit_events");
    const response = await call("GET", "/v1/audit-events/verify", admin);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ intact: true, checked: total });
  });
});

describe("a tenant's own trail (tenant key)", () => {
  it("holds the tenant's events only, by its key, and never the platform's", async () => {
    const other = await createTenant({ name: "Other" });
    const user = await createUser(kept, { name: "Audited" });
    await createUser(other);

    const mine = await events("?limit=1000", kept.key);
    expect(mine.map((e) => e.action)).toEqual(["user.created"]);
    expect(mine[0]).toMatchObject({
      actor: { type: "api_key", id: kept.keyId },
      resource: { type: "user", id: user.id },
    });
    expect(mine[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    // the platform trail does not hold user events
    expect((await events("?limit=1000")).some((e) => e.action.startsWith("user."))).toBe(false);
    expect(await json(await call("GET", "/v1/audit-events/verify", { token: kept.key }))).toEqual({
      intact: true,
      checked: 1,
    });
  });
});
