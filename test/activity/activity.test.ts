import { describe, expect, it } from "vitest";
import { purgeActivity } from "../../src/modules/activity/activity.retention";
import type { Activity } from "../../src/modules/activity/activity.schema";
import { call, createKey, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { createLoginUser, createPasswordClient, PASSWORD, passwordGrant } from "../login/helpers";

async function activityOf(tenant: TestTenant, userId: string, query = "") {
  const response = await call("GET", `/v1/users/${userId}/activity${query}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return json<{ data: Activity[]; nextCursor: string | null }>(response);
}

async function send(tenant: TestTenant, events: unknown[], token = tenant.key) {
  return call("POST", "/v1/activity", { token, body: { events } });
}

async function dailyRows(tenant: TestTenant, userId: string) {
  const db = await tenantDatabase(tenant.id);
  const { results } = await db
    .prepare("SELECT day, events, logins, failed_logins FROM activity_daily WHERE user_id = ? ORDER BY day")
    .bind(userId)
    .all();
  return results;
}

async function user(tenant: TestTenant, id: string) {
  const response = await call("GET", `/v1/users/${id}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return {
    body: await json<{ lastActiveAt: string | null; loginCount: number; lastLoginAt: string | null }>(response),
    etag: response.headers.get("etag"),
  };
}

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

describe("logins", () => {
  it("a login is recorded with its time, address and user agent, and counted on the user", async () => {
    const tenant = await createTenant();
    const client = await createPasswordClient(tenant);
    const person = await createLoginUser(tenant);
    expect((await user(tenant, person.id)).body).toMatchObject({ loginCount: 0, lastActiveAt: null });

    expect((await passwordGrant(client, { username: person.email, password: PASSWORD }, "198.51.100.4")).status).toBe(
      200,
    );
    expect((await passwordGrant(client, { username: person.email, password: "wrong" }, "198.51.100.5")).status).toBe(
      400,
    );
    expect((await passwordGrant(client, { username: person.email, password: PASSWORD }, "198.51.100.4")).status).toBe(
      200,
    );

    const { data } = await activityOf(tenant, person.id);
    expect(data.map((a) => a.type)).toEqual(["login", "login_failed", "login"]);
    expect(data[0]).toMatchObject({ userId: person.id, ip: "198.51.100.4", properties: null, eventId: null });
    expect(data[1]?.ip).toBe("198.51.100.5");
    const { body } = await user(tenant, person.id);
    expect(body.loginCount).toBe(2);
    expect(body.lastActiveAt).not.toBeNull();
    expect(body.lastLoginAt).not.toBeNull();
    const today = new Date().toISOString().slice(0, 10);
    expect(await dailyRows(tenant, person.id)).toEqual([{ day: today, events: 0, logins: 2, failed_logins: 1 }]);
  });

  it("a failed login of an unknown identifier is recorded with no user", async () => {
    const tenant = await createTenant();
    const client = await createPasswordClient(tenant);
    expect((await passwordGrant(client, { username: "nobody@example.com", password: "x" })).status).toBe(400);
    const db = await tenantDatabase(tenant.id);
    const row = await db.prepare("SELECT user_id, type, ip FROM activity_events").first();
    expect(row).toEqual({ user_id: null, type: "login_failed", ip: "203.0.113.9" });
    expect((await db.prepare("SELECT count(*) AS n FROM activity_daily").first<{ n: number }>())?.n).toBe(0);
  });
});

describe("POST /v1/activity", () => {
  it("records product events by userId or externalId, rolls them up per day and moves lastActiveAt", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    const bob = await createUser(tenant, { externalId: "crm-42" });
    const before = await user(tenant, ada.id);
    const response = await send(tenant, [
      { userId: ada.id, type: "report.exported", properties: { rows: 120 }, occurredAt: hoursAgo(50) },
      { userId: ada.id, type: "report.exported", occurredAt: hoursAgo(49) },
      { userId: ada.id, type: "dashboard.viewed" },
      { externalId: "crm-42", type: "invoice.paid", id: "inv-1" },
    ]);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ received: 4, recorded: 4, duplicates: 0 });

    const { data } = await activityOf(tenant, ada.id);
    expect(data.map((a) => a.type)).toEqual(["dashboard.viewed", "report.exported", "report.exported"]);
    expect(data[2]?.properties).toEqual({ rows: 120 });
    const days = await dailyRows(tenant, ada.id);
    expect(days.reduce((n, d) => n + Number(d.events), 0)).toBe(3);
    expect(days.at(-1)).toMatchObject({ day: new Date().toISOString().slice(0, 10), events: 1, logins: 0 });

    const after = await user(tenant, ada.id);
    expect(Date.parse(after.body.lastActiveAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(after.etag).not.toBe(before.etag);
    expect((await activityOf(tenant, bob.id)).data).toMatchObject([{ type: "invoice.paid", eventId: "inv-1" }]);
  });

  it("lastActiveAt moves only for activity at least an hour after it or on a later day: hourly, exact to the day", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    // 23:10 UTC two days ago: the day changes 50 minutes in
    const start = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000 - 50 * 60_000;
    const at = (minutes: number) => new Date(start + minutes * 60_000).toISOString();
    await send(tenant, [{ userId: ada.id, type: "a.b", occurredAt: at(0) }]);
    const first = await user(tenant, ada.id);
    expect(first.body.lastActiveAt).toBe(at(0));
    for (const minutes of [30, 49]) {
      await send(tenant, [{ userId: ada.id, type: "a.b", occurredAt: at(minutes) }]);
      const later = await user(tenant, ada.id);
      expect(later.body.lastActiveAt).toBe(at(0));
      expect(later.etag).toBe(first.etag);
    }
    // 00:05 the next day, 55 minutes after: a later day
    await send(tenant, [{ userId: ada.id, type: "a.b", occurredAt: at(55) }]);
    const nextDay = await user(tenant, ada.id);
    expect(nextDay.body.lastActiveAt).toBe(at(55));
    expect(nextDay.etag).not.toBe(first.etag);
    await send(tenant, [{ userId: ada.id, type: "a.b", occurredAt: at(100) }]);
    expect((await user(tenant, ada.id)).body.lastActiveAt).toBe(at(55));
    await send(tenant, [{ userId: ada.id, type: "a.b", occurredAt: at(115) }]);
    const moved = await user(tenant, ada.id);
    expect(moved.body.lastActiveAt).toBe(at(115));
    expect(moved.etag).not.toBe(nextDay.etag);
  });

  it("an event id recorded before, or twice in a batch, is a duplicate: recorded and counted once", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    const batch = [
      { userId: ada.id, type: "x.y", id: "e-1" },
      { userId: ada.id, type: "x.y", id: "e-2" },
      { userId: ada.id, type: "x.y", id: "e-1" },
    ];
    expect(await json(await send(tenant, batch))).toEqual({ received: 3, recorded: 2, duplicates: 1 });
    expect(await json(await send(tenant, batch))).toEqual({ received: 3, recorded: 0, duplicates: 3 });
    expect((await activityOf(tenant, ada.id)).data).toHaveLength(2);
    expect(await dailyRows(tenant, ada.id)).toMatchObject([{ events: 2 }]);
  });

  it("refuses the whole batch, listing each bad event, and records nothing", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    const gone = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${gone.id}`, { token: tenant.key })).status).toBe(200);
    const problem = await expectProblem(
      await send(tenant, [
        { userId: ada.id, type: "ok.event" },
        { userId: "usr_nobody", type: "ok.event" },
        { userId: gone.id, type: "ok.event" },
        { userId: ada.id, type: "ok.event", occurredAt: hoursAgo(-1) },
        { userId: ada.id, type: "ok.event", occurredAt: hoursAgo(24 * 800) },
      ]),
      400,
      "VALIDATION_FAILED",
    );
    expect(problem.errors?.map((e) => [e.field, e.code])).toEqual([
      ["events[1].userId", "unknown_user"],
      ["events[2].userId", "unknown_user"],
      ["events[3].occurredAt", "in_future"],
      ["events[4].occurredAt", "beyond_retention"],
    ]);
    expect((await activityOf(tenant, ada.id)).data).toEqual([]);
  });

  it("validates the shape: reserved types, both or neither user names, sizes", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    for (const events of [
      [{ userId: ada.id, type: "login" }],
      [{ userId: ada.id, type: "Bad Type" }],
      [{ userId: ada.id, externalId: "x", type: "a.b" }],
      [{ type: "a.b" }],
      [{ userId: ada.id, type: "a.b", properties: { blob: "x".repeat(3000) } }],
      [{ userId: ada.id, type: "a.b", extra: 1 }],
      [],
      Array.from({ length: 1001 }, () => ({ userId: ada.id, type: "a.b" })),
    ]) {
      await expectProblem(await send(tenant, events), 400, "VALIDATION_FAILED");
    }
    expect((await activityOf(tenant, ada.id)).data).toEqual([]);
  });

  it("takes activity:write; listing takes activity:read; a basic key has neither", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await send(tenant, [{ userId: ada.id, type: "a.b" }], basic.secret), 403, "FORBIDDEN");
    await expectProblem(await call("GET", `/v1/users/${ada.id}/activity`, { token: basic.secret }), 403, "FORBIDDEN");
    const manager = await createKey(tenant, ["manager"]);
    expect((await send(tenant, [{ userId: ada.id, type: "a.b" }], manager.secret)).status).toBe(200);
  });

  it("tenants stay apart: another tenant's user is unknown, and its activity is not listed", async () => {
    const one = await createTenant();
    const other = await createTenant();
    const theirs = await createUser(other);
    const problem = await expectProblem(await send(one, [{ userId: theirs.id, type: "a.b" }]), 400);
    expect(problem.errors?.[0]?.code).toBe("unknown_user");
    await expectProblem(await call("GET", `/v1/users/${theirs.id}/activity`, { token: one.key }), 404);
  });
});

describe("GET /v1/users/{id}/activity", () => {
  it("pages newest first and filters by type and time", async () => {
    const tenant = await createTenant();
    const ada = await createUser(tenant);
    await send(
      tenant,
      Array.from({ length: 5 }, (_, i) => ({
        userId: ada.id,
        type: i % 2 ? "odd.one" : "even.one",
        occurredAt: hoursAgo(10 - i),
      })),
    );
    const first = await activityOf(tenant, ada.id, "?limit=2");
    expect(first.data.map((a) => a.type)).toEqual(["even.one", "odd.one"]);
    const second = await activityOf(tenant, ada.id, `?limit=2&cursor=${first.nextCursor}`);
    expect(second.data.map((a) => a.type)).toEqual(["even.one", "odd.one"]);
    const third = await activityOf(tenant, ada.id, `?limit=2&cursor=${second.nextCursor}`);
    expect(third.data).toHaveLength(1);
    expect(third.nextCursor).toBeNull();
    expect((await activityOf(tenant, ada.id, "?type=odd.one")).data).toHaveLength(2);
    const from = encodeURIComponent(hoursAgo(7.5).replace("Z", "+00:00"));
    expect((await activityOf(tenant, ada.id, `?from=${from}`)).data).toHaveLength(2);
    await expectProblem(await call("GET", `/v1/users/${ada.id}/activity?from=yesterday`, { token: tenant.key }), 400);
  });
});

describe("inactive users through the filter", () => {
  it("lastActiveAt and loginCount filter users", async () => {
    const tenant = await createTenant();
    const active = await createUser(tenant);
    const dormant = await createUser(tenant);
    const never = await createUser(tenant);
    await send(tenant, [
      { userId: active.id, type: "a.b" },
      { userId: dormant.id, type: "a.b", occurredAt: hoursAgo(24 * 40) },
    ]);
    const filter = encodeURIComponent('lastActiveAt lt "now-30d" or not (lastActiveAt pr)');
    const response = await call("GET", `/v1/users?filter=${filter}`, { token: tenant.key });
    expect(response.status).toBe(200);
    const ids = (await json<{ data: { id: string }[] }>(response)).data.map((u) => u.id).sort();
    expect(ids).toEqual([dormant.id, never.id].sort());
  });
});

describe("retention", () => {
  it("drops raw events past the plan's retention and rollups past three years", async () => {
    const tenant = await createTenant({ plan: "free" });
    const ada = await createUser(tenant);
    await send(tenant, [
      { userId: ada.id, type: "a.b", occurredAt: hoursAgo(24 * 20) },
      { userId: ada.id, type: "a.b" },
    ]);
    const db = await tenantDatabase(tenant.id);
    await db
      .prepare("INSERT INTO activity_daily (user_id, day, events) VALUES (?, '2020-01-01', 3)")
      .bind(ada.id)
      .run();
    await purgeActivity(db, "free", Date.now() + 15 * 86_400_000);
    expect((await activityOf(tenant, ada.id)).data).toHaveLength(1);
    const days = (await dailyRows(tenant, ada.id)).map((d) => d.day);
    expect(days).not.toContain("2020-01-01");
    expect(days).toHaveLength(2);
  });
});
