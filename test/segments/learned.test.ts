import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { runCron, tenantDatabase } from "../helpers/db";

interface Learned {
  name: string;
  kind: "learned";
  description: string;
  filter: string;
  count: number;
  size: number;
  centroid: Record<string, number>;
  silhouette: number;
  trainedAt: string;
}

interface Learning {
  status: string;
  k: number | null;
  silhouette: number | null;
  users: number;
  minimumUsers: number;
  detail: string;
}

const DAY = 86_400_000;
const TYPES = ["report.viewed", "export.made", "invite.sent"];
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();

/** `n` users in one bulk call; their ids in order. */
async function createUsers(tenant: TestTenant, n: number): Promise<string[]> {
  const operations = Array.from({ length: n }, () => ({ op: "create", data: { email: uniqueEmail("seg") } }));
  const response = await call("POST", "/v1/users/bulk", { token: tenant.key, body: { operations } });
  expect(response.status).toBe(200);
  const { results } = await json<{ results: { status: number; id: string }[] }>(response);
  expect(results.every((r) => r.status === 201)).toBe(true);
  return results.map((r) => r.id);
}

/** Sign-up dates in the past: the API records a user's sign-up as now, so a synthetic history sets them directly. */
async function signedUp(tenant: TestTenant, ids: readonly string[], days: (i: number) => number) {
  const db = await tenantDatabase(tenant.id);
  await db.batch(
    ids.map((id, i) => db.prepare("UPDATE users SET created_at = ? WHERE id = ?").bind(daysAgo(days(i)), id)),
  );
}

async function sendActivity(tenant: TestTenant, events: { userId: string; type: string; occurredAt: string }[]) {
  for (let i = 0; i < events.length; i += 1000) {
    const response = await call("POST", "/v1/activity", {
      token: tenant.key,
      body: { events: events.slice(i, i + 1000) },
    });
    expect(response.status).toBe(200);
  }
}

/**
 * Three clearly different behaviours, 60 users each: power users (signed up 100–119 days ago, active most days of
 * the last month in three kinds of events), dormant users (signed up 130–149 days ago, active a month long, last
 * 61–70 days ago), and brand new users (signed up 2–6 days ago, active on most of their days).
 */
async function syntheticTenant() {
  const tenant = await createTenant();
  const ids = await createUsers(tenant, 180);
  const power = ids.slice(0, 60);
  const dormant = ids.slice(60, 120);
  const fresh = ids.slice(120);
  await signedUp(tenant, power, (i) => 100 + (i % 20));
  await signedUp(tenant, dormant, (i) => 130 + (i % 20));
  await signedUp(tenant, fresh, (i) => 2 + (i % 5));
  const events: { userId: string; type: string; occurredAt: string }[] = [];
  power.forEach((userId, i) => {
    for (let d = 1; d <= 30; d++) {
      if ((i + d) % 7 === 0) continue;
      events.push({ userId, type: TYPES[d % 3] as string, occurredAt: daysAgo(d) });
    }
  });
  dormant.forEach((userId, i) => {
    for (let d = 61 + (i % 10); d <= 95; d += 3)
      events.push({ userId, type: TYPES[0] as string, occurredAt: daysAgo(d) });
  });
  fresh.forEach((userId, i) => {
    for (let d = 1; d <= 1 + (i % 5); d++) {
      if (d === 1 || (i + d) % 3 !== 0)
        events.push({ userId, type: TYPES[(i + d) % 3] as string, occurredAt: daysAgo(d) });
    }
  });
  await sendActivity(tenant, events);
  return { tenant, power, dormant, fresh };
}

async function retrain(tenant: TestTenant) {
  const response = await call("POST", "/v1/segments/learned/retrain", { token: tenant.key });
  expect(response.status).toBe(200);
  return json<{ learning: Learning; segments: Learned[] }>(response);
}

async function members(tenant: TestTenant, name: string): Promise<string[]> {
  const filter = encodeURIComponent(`segment eq "${name}"`);
  const response = await call("GET", `/v1/users?filter=${filter}&limit=200`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: { id: string }[] }>(response)).data.map((u) => u.id).sort();
}

describe("learned segments", () => {
  let world: Awaited<ReturnType<typeof syntheticTenant>>;
  beforeAll(async () => {
    world = await syntheticTenant();
  }, 60_000);

  it("retraining finds the three behaviours (k = 3 by silhouette), names them and describes them in words", async () => {
    const { learning, segments } = await retrain(world.tenant);
    expect(learning).toMatchObject({ status: "trained", k: 3, users: 180, minimumUsers: 50 });
    expect(learning.silhouette).toBeGreaterThan(0.5);
    for (const segment of segments) expect(segment.silhouette).toBeGreaterThan(0.5);
    const byName = new Map(segments.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(["learned:dormant", "learned:new-and-active", "learned:power-users"]);
    const dormant = byName.get("learned:dormant") as Learned;
    expect(dormant.description).toMatch(/^Dormant/);
    expect(dormant).toMatchObject({ kind: "learned", size: 60, count: 60, filter: 'segment eq "learned:dormant"' });
    expect(dormant.centroid.recencyDays).toBeGreaterThan(55);
    expect(dormant.centroid.activeDays30).toBe(0);
    const fresh = byName.get("learned:new-and-active") as Learned;
    expect(fresh.description).toMatch(/^New and active/);
    expect(fresh.centroid.tenureDays).toBeLessThan(7);
    const power = byName.get("learned:power-users") as Learned;
    expect(power.description).toMatch(/^Power users/);
    expect(power.centroid.activeDays30).toBeGreaterThan(20);
    expect(power.centroid.breadth30).toBeGreaterThanOrEqual(2.5);
  });

  it("membership works as `segment eq` in GET /v1/users, and each group maps to its cluster", async () => {
    await retrain(world.tenant);
    expect(await members(world.tenant, "learned:power-users")).toEqual([...world.power].sort());
    expect(await members(world.tenant, "learned:dormant")).toEqual([...world.dormant].sort());
    expect(await members(world.tenant, "learned:new-and-active")).toEqual([...world.fresh].sort());
    const filter = encodeURIComponent('segment eq "learned:dormant" or segment eq "learned:new-and-active"');
    const both = await call("GET", `/v1/users?filter=${filter}&limit=1&count=true`, { token: world.tenant.key });
    expect((await json<{ total: number }>(both)).total).toBe(120);
  });

  it("is deterministic: retraining the same behaviour gives the same segments and members", async () => {
    const first = await retrain(world.tenant);
    const firstMembers = await members(world.tenant, "learned:dormant");
    const second = await retrain(world.tenant);
    const strip = (s: Learned[]) => s.map(({ trainedAt: _t, ...rest }) => rest);
    expect(strip(second.segments)).toEqual(strip(first.segments));
    expect(await members(world.tenant, "learned:dormant")).toEqual(firstMembers);
  });

  it("shows in GET /v1/segments and GET /v1/segments/{name}, read-only, and retraining is audited", async () => {
    await retrain(world.tenant);
    const list = await json<{ data: Learned[]; learning: Learning }>(
      await call("GET", "/v1/segments", { token: world.tenant.key }),
    );
    expect(list.learning.status).toBe("trained");
    expect(list.data.filter((s) => s.kind === "learned")).toHaveLength(3);
    const one = await call("GET", "/v1/segments/learned:dormant", { token: world.tenant.key });
    expect(one.status).toBe(200);
    expect((await json<Learned>(one)).size).toBe(60);
    await expectProblem(
      await call("PATCH", "/v1/segments/learned:dormant", { token: world.tenant.key, body: { description: "x" } }),
      409,
      "LEARNED_SEGMENT_READ_ONLY",
    );
    await expectProblem(await call("GET", "/v1/segments/learned:nope", { token: world.tenant.key }), 404);
    const audit = await json<{ data: { action: string }[] }>(
      await call("GET", "/v1/audit-events?limit=100", { token: world.tenant.key }),
    );
    expect(audit.data.some((e) => e.action === "segment.learned_retrained")).toBe(true);
  });

  it("the daily cron retrains tenants whose plan has segments, and leaves the others alone", async () => {
    const db = await tenantDatabase(world.tenant.id);
    await db.batch([db.prepare("DELETE FROM learned_segments"), db.prepare("DELETE FROM learned_segment_training")]);
    const free = await createTenant({ plan: "free" });
    await runCron("0 3 * * *");
    const learning = await json<{ learning: Learning }>(
      await call("GET", "/v1/segments?counts=false", { token: world.tenant.key }),
    );
    expect(learning.learning).toMatchObject({ status: "trained", k: 3 });
    const freeDb = await tenantDatabase(free.id);
    expect((await freeDb.prepare("SELECT count(*) AS n FROM learned_segment_training").first<{ n: number }>())?.n).toBe(
      0,
    );
  });
});

describe("learned segments of a tiny tenant", () => {
  it("are none, and the API says why", async () => {
    const tenant = await createTenant();
    await createUsers(tenant, 10);
    const { learning, segments } = await retrain(tenant);
    expect(segments).toEqual([]);
    expect(learning).toMatchObject({ status: "too_few_users", k: null, users: 10, minimumUsers: 50 });
    expect(learning.detail).toContain("at least 50");
    const list = await json<{ data: unknown[]; learning: Learning }>(
      await call("GET", "/v1/segments", { token: tenant.key }),
    );
    expect(list.data).toEqual([]);
    expect(list.learning.status).toBe("too_few_users");
    const filter = encodeURIComponent('segment eq "learned:dormant"');
    await expectProblem(await call("GET", `/v1/users?filter=${filter}`, { token: tenant.key }), 400, "INVALID_FILTER");
  });
});
