import { expect } from "vitest";
import { newId } from "../../src/core/ids";
import { activityStatements, LOGIN } from "../../src/modules/activity/activity.repo";
import { call, createTenant, createUser, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

const DAY_MS = 86_400_000;

/** The Monday (midnight UTC) on or before today: the fixture's `to`, so its four weeks before are whole ISO weeks. */
export function fixtureMonday(now = Date.now()): number {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return today - ((new Date(today).getUTCDay() + 6) % 7) * DAY_MS;
}

export interface Fixture {
  tenant: TestTenant;
  /** The fixture's `to` (a Monday) as YYYY-MM-DD, and `day(k)`: k days before it. */
  to: string;
  day: (k: number) => string;
  users: Record<"u1" | "u2" | "u3" | "u4" | "u5" | "u6", string>;
}

/**
 * A small tenant whose every figure is known (docs in test/insights/insights.test.ts). D(k) is k days before T, a
 * Monday; users' created_at and deleted_at are set in D1 (the API stamps "now"); product events go through
 * POST /v1/activity; logins (recorded by the logins themselves, at the time of the login) are written with the
 * login's own statements, on past days.
 *
 *   u1 created D100, login D20, event D15
 *   u2 created D40,  logins D3 (2) and D2 (3), event D1
 *   u3 created D10,  event D10, login D1
 *   u4 created D2,   never active
 *   u5 created D400, disabled, event D50
 *   u6 created D5,   event D4, deleted D4
 */
export async function buildFixture(): Promise<Fixture> {
  const T = fixtureMonday();
  const day = (k: number) => new Date(T - k * DAY_MS).toISOString().slice(0, 10);
  const at = (k: number, hour = 12) => `${day(k)}T${String(hour).padStart(2, "0")}:00:00.000Z`;
  const tenant = await createTenant({ name: "Insights fixture" });
  const db = await tenantDatabase(tenant.id);
  const created: Record<string, number> = { u1: 100, u2: 40, u3: 10, u4: 2, u5: 400, u6: 5 };
  const users = {} as Fixture["users"];
  for (const [name, k] of Object.entries(created)) {
    const user = await createUser(tenant, name === "u5" ? { status: "disabled" } : {});
    users[name as keyof Fixture["users"]] = user.id;
    await db.prepare("UPDATE users SET created_at = ? WHERE id = ?").bind(at(k, 9), user.id).run();
  }
  const events = [
    { userId: users.u1, type: "page.view", occurredAt: at(15) },
    { userId: users.u2, type: "report.exported", occurredAt: at(1) },
    { userId: users.u3, type: "page.view", occurredAt: at(10) },
    { userId: users.u5, type: "page.view", occurredAt: at(50) },
    { userId: users.u6, type: "page.view", occurredAt: at(4) },
  ];
  const sent = await call("POST", "/v1/activity", { token: tenant.key, body: { events } });
  expect(sent.status).toBe(200);
  const logins: [string, number, number][] = [
    [users.u1, 20, 1],
    [users.u2, 3, 2],
    [users.u2, 2, 3],
    [users.u3, 1, 1],
  ];
  // as the login itself records them (activity_events, activity_daily, lastActiveAt), on past days
  const rows = logins.flatMap(([userId, k, n]) =>
    Array.from({ length: n }, (_, i) => ({
      id: newId("act"),
      userId,
      type: LOGIN,
      occurredAt: at(k, 8 + i),
      ip: null,
      userAgent: null,
      properties: null,
      clientEventId: null,
      receivedAt: at(k, 8 + i),
    })),
  );
  await db.batch(activityStatements(db, rows));
  expect((await call("DELETE", `/v1/users/${users.u6}`, { token: tenant.key })).status).toBe(200);
  await db.prepare("UPDATE users SET deleted_at = ? WHERE id = ?").bind(at(4, 18), users.u6).run();
  return { tenant, to: day(0), day, users };
}

export async function getInsight<T>(tenant: TestTenant, path: string, query: Record<string, string> = {}) {
  const response = await call("GET", `/v1/insights/${path}?${new URLSearchParams(query)}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}
