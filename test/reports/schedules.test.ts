import { describe, expect, it } from "vitest";
import { cronOfFrequency, nextRunAfter } from "../../src/modules/reports/reports.timing";
import { call, createKey, createTenant, expectProblem, json } from "../helpers/api";
import { count, rawRows, tenantDatabase } from "../helpers/db";
import { createSchedule, type Schedule } from "./support";

const localParts = (iso: string, timeZone: string) =>
  new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));

describe("schedules", () => {
  it("create, read, list, change and delete, with nextRunAt in the time zone, recipients sealed, audited", async () => {
    const tenant = await createTenant();
    const created = await createSchedule(tenant, {
      name: "Weekly sign-ups",
      frequency: "weekly",
      time: "08:00",
      weekday: 1,
      timezone: "Europe/Paris",
      recipients: ["Ops@Example.com", "cto@example.com"],
    });
    expect(created).toMatchObject({ cron: "0 8 * * 1", timezone: "Europe/Paris", enabled: true, format: "html" });
    expect(created.recipients).toEqual(["ops@example.com", "cto@example.com"]);
    expect(localParts(created.nextRunAt as string, "Europe/Paris")).toBe("Mon 08:00");
    expect(Date.parse(created.nextRunAt as string)).toBeGreaterThan(Date.now());

    const got = await call("GET", `/v1/reports/schedules/${created.id}`, { token: tenant.key });
    expect(await json(got)).toEqual(created);
    const list = await json<{ data: Schedule[] }>(await call("GET", "/v1/reports/schedules", { token: tenant.key }));
    expect(list.data.map((s) => s.id)).toEqual([created.id]);

    // at rest: no recipient in plaintext anywhere in the row
    const db = await tenantDatabase(tenant.id);
    const [row] = await rawRows(db, "report_schedules", "id = ?", created.id);
    expect(JSON.stringify(row)).not.toContain("example.com");

    // a rename keeps the due time; a new timing computes it again
    const renamed = await json<Schedule>(
      await call("PATCH", `/v1/reports/schedules/${created.id}`, { token: tenant.key, body: { name: "Renamed" } }),
    );
    expect(renamed).toMatchObject({ name: "Renamed", nextRunAt: created.nextRunAt });
    const recron = await call("PATCH", `/v1/reports/schedules/${created.id}`, {
      token: tenant.key,
      body: { cron: "15 6 * * *", timezone: "America/New_York" },
    });
    expect(recron.status).toBe(200);
    const changed = await json<Schedule>(recron);
    expect(changed).toMatchObject({ cron: "15 6 * * *", frequency: null, weekday: null, time: null });
    expect(localParts(changed.nextRunAt as string, "America/New_York")).toMatch(/ 06:15$/);
    const disabled = await json<Schedule>(
      await call("PATCH", `/v1/reports/schedules/${created.id}`, { token: tenant.key, body: { enabled: false } }),
    );
    expect(disabled.nextRunAt).toBeNull();

    expect((await call("DELETE", `/v1/reports/schedules/${created.id}`, { token: tenant.key })).status).toBe(204);
    await expectProblem(await call("GET", `/v1/reports/schedules/${created.id}`, { token: tenant.key }), 404);
    const actions = await rawRows<{ action: string; changes: string }>(
      db,
      "audit_events",
      "resource_type = 'report_schedule' ORDER BY created_at, id",
    );
    expect(actions.map((a) => a.action)).toEqual([
      "report_schedule.created",
      "report_schedule.updated",
      "report_schedule.updated",
      "report_schedule.updated",
      "report_schedule.deleted",
    ]);
    expect(actions.map((a) => a.changes).join()).not.toContain("example.com");
  });

  it("refuses what is not valid with field errors, and creates nothing", async () => {
    const tenant = await createTenant();
    const bad = async (body: Record<string, unknown>, fields: string[]) => {
      const response = await call("POST", "/v1/reports/schedules", {
        token: tenant.key,
        body: {
          name: "x",
          report: "new-users",
          format: "html",
          recipients: ["a@example.com"],
          frequency: "daily",
          ...body,
        },
      });
      const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
      expect((problem.errors as { field: string }[]).map((e) => e.field).sort()).toEqual(fields.sort());
    };
    await bad({ frequency: null, cron: "61 * * * *" }, ["cron"]);
    await bad({ frequency: null, cron: "* * *" }, ["cron"]);
    await bad({ cron: "0 8 * * *" }, ["cron"]);
    await bad({ frequency: null }, ["cron"]);
    await bad({ timezone: "Mars/Olympus" }, ["timezone"]);
    await bad({ recipients: [] }, ["recipients"]);
    await bad({ recipients: ["not an email"] }, ["recipients.0"]);
    await bad({ format: "json", recipients: null }, ["webhookId"]);
    await bad({ format: "json", recipients: null, webhookId: "whk_nope" }, ["webhookId"]);
    await bad({ report: "weekly-digest" }, ["report"]);
    await bad({ weekday: 3 }, ["weekday"]);
    await bad({ filter: 'status eq "active"' }, ["filter"]);
    await bad({ report: "export", filter: 'email eq "a@example.com"' }, ["filter"]);
    await bad({ report: "export", filter: "((" }, ["filter"]);
    await bad({ colour: "red" }, ["colour"]);
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "report_schedules")).toBe(0);
    // a patch is validated as a whole, and a refused one changes nothing
    const schedule = await createSchedule(tenant, {});
    for (const body of [{ format: "json" }, { cron: "bad" }, { timezone: "Nowhere/Land" }, { recipients: null }]) {
      await expectProblem(
        await call("PATCH", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key, body }),
        400,
        "VALIDATION_FAILED",
      );
    }
    expect(await json(await call("GET", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key }))).toEqual(
      schedule,
    );
    expect(await count(db, "audit_events", "resource_type = 'report_schedule'")).toBe(1);
    await call("DELETE", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key });
    await expectProblem(
      await call("PATCH", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key, body: { name: "x" } }),
      404,
    );
    expect(await count(db, "report_schedules")).toBe(0);
    await expectProblem(await call("GET", "/v1/reports/runs?state=x", { token: tenant.key }), 400);
  });

  it("nextRunAt across time zones and DST (croner)", () => {
    expect(cronOfFrequency("monthly", "07:05", 1, 28)).toBe("5 7 28 * *");
    // 02:30 does not exist in Paris on 29 March 2026: the next existing time, 03:00 CEST
    expect(nextRunAfter("30 2 * * *", "Europe/Paris", new Date("2026-03-28T12:00:00Z"))).toBe(
      "2026-03-29T01:00:00.000Z",
    );
    // 02:30 is twice on 25 October 2026: once only, then the next day in CET
    const first = nextRunAfter("30 2 * * *", "Europe/Paris", new Date("2026-10-24T12:00:00Z")) as string;
    expect(first).toBe("2026-10-25T00:30:00.000Z");
    expect(nextRunAfter("30 2 * * *", "Europe/Paris", new Date(first))).toBe("2026-10-26T01:30:00.000Z");
    // 08:00 in New York is 13:00 UTC before 8 March 2026 and 12:00 UTC after
    expect(nextRunAfter("0 8 * * *", "America/New_York", new Date("2026-03-07T00:00:00Z"))).toBe(
      "2026-03-07T13:00:00.000Z",
    );
    expect(nextRunAfter("0 8 * * *", "America/New_York", new Date("2026-03-08T14:00:00Z"))).toBe(
      "2026-03-09T12:00:00.000Z",
    );
    expect(nextRunAfter("0 8 * * *", "UTC", new Date("2026-03-08T14:00:00Z"))).toBe("2026-03-09T08:00:00.000Z");
  });

  it("permissions, the plan gate and tenant isolation", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const schedule = await createSchedule(tenant, {});
    const manager = await createKey(tenant, ["manager"]);
    expect((await call("GET", `/v1/reports/schedules/${schedule.id}`, { token: manager.secret })).status).toBe(200);
    expect((await call("GET", "/v1/reports/runs", { token: manager.secret })).status).toBe(200);
    await expectProblem(
      await call("POST", "/v1/reports/schedules", {
        token: manager.secret,
        body: { name: "x", report: "new-users", frequency: "daily", format: "html", recipients: ["a@example.com"] },
      }),
      403,
    );
    await expectProblem(await call("DELETE", `/v1/reports/schedules/${schedule.id}`, { token: manager.secret }), 403);
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/reports/schedules", { token: basic.secret }), 403);
    await expectProblem(await call("GET", `/v1/reports/schedules/${schedule.id}`, { token: other.key }), 404);
    await expectProblem(
      await call("PATCH", `/v1/reports/schedules/${schedule.id}`, { token: other.key, body: { name: "mine" } }),
      404,
    );
    const free = await createTenant({ plan: "free" });
    await expectProblem(await call("GET", "/v1/reports/schedules", { token: free.key }), 403, "FEATURE_NOT_IN_PLAN");
    expect((await json(await call("GET", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key }))).name).toBe(
      "Ops",
    );
  });
});
