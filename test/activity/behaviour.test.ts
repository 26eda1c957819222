import { describe, expect, it } from "vitest";
import { activeBetween, behaviourAsOf } from "../../src/modules/activity/behaviour";
import { call, createTenant, createUser } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

const DAY = 86_400_000;

describe("behaviour as of a cut-off", () => {
  it("counts only what happened before the cut-off, within its windows", async () => {
    const tenant = await createTenant();
    const busy = await createUser(tenant);
    const idle = await createUser(tenant);
    const now = Date.now();
    const daysAgo = (d: number) => new Date(now - d * DAY).toISOString();
    const response = await call("POST", "/v1/activity", {
      token: tenant.key,
      body: {
        events: [
          { userId: busy.id, type: "a.one", occurredAt: daysAgo(40) },
          { userId: busy.id, type: "a.one", occurredAt: daysAgo(20) },
          { userId: busy.id, type: "a.two", occurredAt: daysAgo(12) },
          { userId: busy.id, type: "a.two", occurredAt: daysAgo(12.01) },
          { userId: busy.id, type: "a.three", occurredAt: daysAgo(3) },
          { userId: busy.id, type: "a.after", occurredAt: daysAgo(0.01) },
        ],
      },
    });
    expect(response.status).toBe(200);
    const db = await tenantDatabase(tenant.id);
    // both users signed up 60 days before now
    await db.prepare("UPDATE users SET created_at = ?").bind(daysAgo(60)).run();

    const cutoff = now - 1 * DAY;
    const byUser = new Map((await behaviourAsOf(db, cutoff)).map((b) => [b.userId, b]));
    expect(byUser.get(busy.id)).toMatchObject({
      activeDays7: 1,
      activeDays30: 3,
      events30: 4,
      logins30: 0,
      breadth30: 3,
    });
    expect(byUser.get(busy.id)?.tenureDays).toBeCloseTo(59, 5);
    expect(byUser.get(busy.id)?.recencyDays).toBeGreaterThanOrEqual(1);
    expect(byUser.get(busy.id)?.recencyDays).toBeLessThanOrEqual(3);
    // never active: recency is the tenure
    expect(byUser.get(idle.id)).toMatchObject({ activeDays30: 0, events30: 0, breadth30: 0 });
    expect(byUser.get(idle.id)?.recencyDays).toBeCloseTo(59, 5);

    expect([...(await activeBetween(db, now - 25 * DAY, now - 2 * DAY))]).toEqual([busy.id]);
    expect((await activeBetween(db, now - 2 * DAY, now + DAY)).has(busy.id)).toBe(true);
    expect((await activeBetween(db, now - 59 * DAY, now - 45 * DAY)).size).toBe(0);
  });

  it("leaves out users who signed up after the cut-off, and deleted ones unless asked", async () => {
    const tenant = await createTenant();
    const kept = await createUser(tenant);
    const gone = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${gone.id}`, { token: tenant.key })).status).toBe(200);
    const db = await tenantDatabase(tenant.id);
    const ids = async (cutoff: number, includeDeleted = false) =>
      (await behaviourAsOf(db, cutoff, { includeDeleted })).map((b) => b.userId).sort();
    expect(await ids(Date.now() + 1000)).toEqual([kept.id]);
    expect(await ids(Date.now() + 1000, true)).toEqual([kept.id, gone.id].sort());
    expect(await ids(Date.now() - DAY, true)).toEqual([]);
    const only = await behaviourAsOf(db, Date.now() + 1000, { includeDeleted: true, userIds: [gone.id] });
    expect(only.map((b) => b.userId)).toEqual([gone.id]);
  });
});
