import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { sleep, tenantDatabase } from "../helpers/db";

// POST /v1/notifications/broadcasts: a user.re_engagement message to every active user an audience names, through
// the real EVENTS and NOTIFICATIONS queues (the SMTP port listens to nobody, so messages end failed: what matters is
// who got one, and that each went through the pipeline).

let tenant: TestTenant;

interface LogEntry {
  template: string;
  userId: string;
  status: string;
  error: string | null;
}

async function messagesOf(userId: string): Promise<LogEntry[]> {
  const response = await call("GET", `/v1/notifications?userId=${userId}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: LogEntry[] }>(response)).data.filter((e) => e.template === "user.re_engagement");
}

/** Polls until the user's re-engagement message has settled (queues work in the background); bounded. */
async function settled(userId: string): Promise<LogEntry> {
  const end = Date.now() + 15_000;
  for (;;) {
    const entry = (await messagesOf(userId)).find((e) => e.status !== "queued");
    if (entry) return entry;
    if (Date.now() > end) throw new Error(`no settled re-engagement message for ${userId}`);
    await sleep(50);
  }
}

const send = (body: unknown, token = tenant.key) => call("POST", "/v1/notifications/broadcasts", { token, body });

beforeAll(async () => {
  tenant = await createTenant();
  const put = await call("PUT", "/v1/notification-channels", {
    token: tenant.key,
    body: { email: { provider: "smtp", host: "127.0.0.1", port: 9, security: "none", from: "App <app@example.com>" } },
  });
  expect(put.status).toBe(200);
});

describe("POST /v1/notifications/broadcasts", () => {
  it("sends one message to each active user the filter names, respecting opt-outs, and audits the broadcast", async () => {
    const dormant = await createUser(tenant, { name: "Gold Dormant" });
    const optedOut = await createUser(tenant, { name: "Gold Opted-out" });
    const disabled = await createUser(tenant, { name: "Gold Disabled", status: "disabled" });
    const other = await createUser(tenant, { name: "Free Other" });
    expect(
      (
        await call("PUT", `/v1/users/${optedOut.id}/notification-preferences`, {
          token: tenant.key,
          body: { optedOut: ["reminders"] },
        })
      ).status,
    ).toBe(200);
    const filter = 'name sw "Gold"';

    const dry = await send({ event: "user.re_engagement", filter, dryRun: true });
    expect(dry.status).toBe(202);
    expect(await json(dry)).toMatchObject({ recipients: 2, dryRun: true });
    expect(await messagesOf(dormant.id)).toEqual([]);

    const response = await send({ event: "user.re_engagement", filter });
    expect(response.status).toBe(202);
    const result = await json<{ broadcastId: string; recipients: number }>(response);
    expect(result).toMatchObject({ event: "user.re_engagement", recipients: 2, dryRun: false });

    expect(await settled(dormant.id)).toMatchObject({ status: "failed" });
    expect(await settled(optedOut.id)).toMatchObject({ status: "suppressed" });
    expect(await messagesOf(disabled.id)).toEqual([]);
    expect(await messagesOf(other.id)).toEqual([]);

    const db = await tenantDatabase(tenant.id);
    const audit = await db
      .prepare("SELECT action, resource_id FROM audit_events WHERE action = 'notification.broadcast'")
      .all();
    expect(audit.results).toEqual([{ action: "notification.broadcast", resource_id: result.broadcastId }]);
    const events = await db
      .prepare("SELECT subject_id FROM outbox_events WHERE type = 'user.re_engagement' ORDER BY subject_id")
      .all<{ subject_id: string }>();
    expect(events.results.map((e) => e.subject_id)).toEqual([dormant.id, optedOut.id].sort());
  });

  it("refuses a bad filter, an unknown message and an unreadable field, sending nothing", async () => {
    await expectProblem(await send({ event: "user.re_engagement", filter: "name eq" }), 400, "INVALID_FILTER");
    await expectProblem(await send({ event: "user.created", filter: "name pr" }), 400, "VALIDATION_FAILED");
    await expectProblem(await send({ event: "user.re_engagement", filter: "" }), 400, "VALIDATION_FAILED");
    const noEmail = await createKey(tenant, ["manager"]);
    // a credential may not learn emails by broadcasting to them: the list's own field check applies
    const restricted = await call("POST", "/v1/roles", {
      token: tenant.key,
      body: { name: "notifier", permissions: ["notifications:write", "users:read"] },
    });
    expect(restricted.status).toBe(201);
    const notifier = await createKey(tenant, ["notifier"]);
    await expectProblem(
      await send({ event: "user.re_engagement", filter: 'email ew "@example.com"' }, notifier.secret),
      403,
    );
    await expectProblem(
      await send({ event: "user.re_engagement", filter: "name pr" }, noEmail.secret),
      403,
      "FORBIDDEN",
    );
  });

  it("needs a channel to send", async () => {
    const bare = await createTenant();
    await createUser(bare);
    const response = await call("POST", "/v1/notifications/broadcasts", {
      token: bare.key,
      body: { event: "user.re_engagement", filter: "name pr or not (name pr)" },
    });
    await expectProblem(response, 409, "CONFLICT");
  });
});
