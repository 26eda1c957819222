import { env } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventMessage } from "../../src/core/events/dispatch";
import { signedHeaders } from "../../src/core/http/standard-webhooks";
import { payloadOf, signingSecrets } from "../../src/modules/webhooks/webhooks.delivery";
import { webhookFanOut } from "../../src/modules/webhooks/webhooks.fanout";
import { findEndpoint } from "../../src/modules/webhooks/webhooks.repo";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, runCron, tenantDatabase } from "../helpers/db";
import { createEndpoint, deliveriesOf, insertDelivery, insertEvent, runQueue, until } from "./support";

// Fan-out, signing and the delivery consumer in real workerd. A receiver that answers cannot run here: the
// successful path, 410 and real retries are in test-e2e/webhooks.test.ts; here every request is refused by a closed
// port, and the consumer is driven with real MessageBatches. Retries it schedules are put an hour away (the vars
// passed to the handler) so that the queue does not run them in the background meanwhile.
const HOUR = { WEBHOOK_RETRY_SCHEDULE: "3600,3600" };

let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: "Webhook delivery" });
  db = await tenantDatabase(tenant.id);
});

async function fanOut(events: Omit<EventMessage, "tenantId">[]) {
  await webhookFanOut.consume(
    { env, tenantId: tenant.id, db },
    events.map((e) => ({ ...e, tenantId: tenant.id })),
  );
}

describe("signing (Standard Webhooks)", () => {
  it("signs id.timestamp.body so that the standardwebhooks library verifies it", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const body = JSON.stringify({ type: "user.created", timestamp: new Date().toISOString(), data: { id: "evt_1" } });
    const headers = await signedHeaders([endpoint.secret], "evt_1", body);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(endpoint.secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(endpoint.secret).verify(`${body} `, headers)).toThrow();
    const other = await createEndpoint(tenant, { events: ["never.sent"] });
    expect(() => new Webhook(other.secret).verify(body, headers)).toThrow();
  });

  it("after a rotation, signs with the new and the previous secret; each verifies alone", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const rotated = await json<{ secret: string }>(
      await call("POST", `/v1/webhooks/${endpoint.id}/rotate-secret`, { token: tenant.key }),
    );
    const row = await findEndpoint(db, endpoint.id);
    if (!row) throw new Error("no endpoint row");
    const secrets = await signingSecrets(env, row, Date.now());
    expect(secrets).toEqual([rotated.secret, endpoint.secret]);
    const body = '{"type":"user.updated"}';
    const headers = await signedHeaders(secrets, "evt_2", body);
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    for (const secret of [rotated.secret, endpoint.secret]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual({ type: "user.updated" });
    }
    // once the overlap is over, the new one alone
    const later = Date.parse(row.previousSecretExpiresAt as string) + 1;
    expect(await signingSecrets(env, row, later)).toEqual([rotated.secret]);
  });

  it("the body is {type, timestamp, data}, data being the event as GET /v1/events shows it", async () => {
    const event = await insertEvent(db, "user.created");
    const row = await db
      .prepare("SELECT id, type, subject_id, data, created_at, sequence FROM outbox_events WHERE id = ?")
      .bind(event.id)
      .first<{ id: string; type: string; subject_id: string; data: string; created_at: string; sequence: number }>();
    if (!row) throw new Error("no event");
    expect(JSON.parse(payloadOf(tenant.id, row))).toEqual({
      type: "user.created",
      timestamp: event.occurredAt,
      data: {
        id: event.id,
        type: "user.created",
        tenantId: tenant.id,
        occurredAt: event.occurredAt,
        sequence: 1,
        subjectId: "sub_webhooks",
        data: { n: 1 },
      },
    });
  });
});

describe("fan-out", () => {
  it("makes one delivery per matching enabled endpoint, idempotent by event id", async () => {
    const exact = await createEndpoint(tenant, { events: ["fan.created"] });
    const family = await createEndpoint(tenant, { events: ["fan.*"] });
    const all = await createEndpoint(tenant, { events: ["*"] });
    const other = await createEndpoint(tenant, { events: ["fanx.created", "fan_.*"] });
    const off = await createEndpoint(tenant, { events: ["*"] });
    await call("PATCH", `/v1/webhooks/${off.id}`, { token: tenant.key, body: { status: "disabled" } });
    const created = await insertEvent(db, "fan.created");
    const updated = await insertEvent(db, "fan.updated");
    await fanOut([created, updated]);
    await fanOut([created, updated]);
    const pairs = async (endpointId: string) =>
      (
        await db
          .prepare("SELECT event_id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY event_id")
          .bind(endpointId)
          .all<{ event_id: string }>()
      ).results.map((r) => r.event_id);
    expect(await pairs(exact.id)).toEqual([created.id]);
    expect((await pairs(family.id)).sort()).toEqual([created.id, updated.id].sort());
    expect((await pairs(all.id)).filter((id) => id === created.id || id === updated.id)).toHaveLength(2);
    expect(await pairs(other.id)).toEqual([]);
    expect(await pairs(off.id)).toEqual([]);
  });

  it("skips events older than the endpoint, and test events (addressed to one endpoint)", async () => {
    const old = await insertEvent(db, "late.created", new Date(Date.now() - 60_000).toISOString());
    const endpoint = await createEndpoint(tenant, { events: ["late.*", "webhook.test"] });
    const test = await insertEvent(db, "webhook.test");
    await fanOut([old, test]);
    expect(await count(db, "webhook_deliveries", "endpoint_id = ?", endpoint.id)).toBe(0);
  });

  it("a tenant's events reach its own endpoints, never another tenant's", async () => {
    const other = await createTenant({ name: "Webhook other tenant" });
    const otherDb = await tenantDatabase(other.id);
    const mine = await createEndpoint(tenant, { events: ["user.created"] });
    const theirs = await createEndpoint(other, { events: ["user.*", "*"] });
    const user = await createUser(tenant);
    await until("the delivery of user.created", () =>
      db
        .prepare(
          `SELECT d.id FROM webhook_deliveries d JOIN outbox_events o ON o.id = d.event_id
           WHERE d.endpoint_id = ? AND o.subject_id = ?`,
        )
        .bind(mine.id, user.id)
        .first(),
    );
    // the other tenant's endpoint hears its own events (its creation) and nothing of this tenant's
    const foreign = await otherDb
      .prepare(
        `SELECT count(*) AS n FROM webhook_deliveries d
         WHERE d.endpoint_id = ? AND NOT EXISTS (SELECT 1 FROM outbox_events o WHERE o.id = d.event_id)`,
      )
      .bind(theirs.id)
      .first<{ n: number }>();
    expect(foreign?.n).toBe(0);
    const userEvents = await db
      .prepare("SELECT id FROM outbox_events WHERE subject_id = ?")
      .bind(user.id)
      .all<{ id: string }>();
    for (const { id } of userEvents.results) {
      expect(await count(otherDb, "webhook_deliveries", "event_id = ?", id)).toBe(0);
    }
    await expectProblem(
      await call("GET", `/v1/webhooks/${mine.id}/deliveries`, { token: other.key }),
      404,
      "WEBHOOK_NOT_FOUND",
    );
  });
});

describe("the delivery consumer", () => {
  it("records a failed attempt, schedules the next one, and acks; a stale message does nothing", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const event = await insertEvent(db, "consumer.failed");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    const message = { tenantId: tenant.id, deliveryId, attempt: 1 };
    const result = await runQueue("uom-webhooks", [message], HOUR);
    expect(result.explicitAcks).toEqual([`msg-0-${deliveryId}`]);
    const [delivery] = await deliveriesOf(tenant, endpoint.id);
    expect(delivery).toMatchObject({ id: deliveryId, status: "pending", lastStatusCode: null });
    expect(delivery?.lastError).toMatch(/^request failed/);
    expect(delivery?.attempts).toEqual([
      expect.objectContaining({ attempt: 1, statusCode: null, error: expect.stringMatching(/^request failed/) }),
    ]);
    // the next attempt about an hour away (±20 % jitter)
    const wait = Date.parse(delivery?.nextAttemptAt as string) - Date.now();
    expect(wait).toBeGreaterThan(0.75 * 3600_000);
    expect(wait).toBeLessThan(1.25 * 3600_000);
    expect((await findEndpoint(db, endpoint.id))?.consecutiveFailures).toBe(1);

    const again = await runQueue("uom-webhooks", [message], HOUR);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await count(db, "webhook_delivery_attempts", "delivery_id = ?", deliveryId)).toBe(1);
  });

  it("fails the delivery when the schedule runs out, and the dead-letter queue records the final failure", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const event = await insertEvent(db, "consumer.exhausted");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    const vars = { WEBHOOK_RETRY_SCHEDULE: "3600" };
    await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 1 }], vars);
    await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 2 }], vars);
    const [delivery] = await deliveriesOf(tenant, endpoint.id);
    expect(delivery).toMatchObject({ status: "failed", nextAttemptAt: null });
    expect(delivery?.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    const dead = await until("the dead-letter record", async () => {
      const [row] = await deliveriesOf(tenant, endpoint.id);
      return row?.deadLetteredAt ? row : null;
    });
    expect(dead.status).toBe("failed");
  });

  it("disables an endpoint after WEBHOOK_DISABLE_AFTER_FAILURES failures in a row, with a webhook.disabled event", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const vars = { ...HOUR, WEBHOOK_DISABLE_AFTER_FAILURES: "2" };
    for (const type of ["disable.one", "disable.two"]) {
      const event = await insertEvent(db, type);
      const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
      await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 1 }], vars);
    }
    const shown = await json<{ status: string; disabledReason: string }>(
      await call("GET", `/v1/webhooks/${endpoint.id}`, { token: tenant.key }),
    );
    expect(shown).toMatchObject({ status: "disabled", disabledReason: "failures" });
    expect(
      await count(
        db,
        "audit_events",
        "action = 'webhook.disabled' AND resource_id = ? AND actor_type = 'system'",
        endpoint.id,
      ),
    ).toBe(1);
    expect(await count(db, "outbox_events", "type = 'webhook.disabled' AND subject_id = ?", endpoint.id)).toBe(1);

    // a pending delivery of a disabled endpoint ends without a request
    const event = await insertEvent(db, "disable.three");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 1 }], vars);
    const [last] = await deliveriesOf(tenant, endpoint.id, "?limit=1");
    expect(last).toMatchObject({ id: deliveryId, status: "failed", lastError: "endpoint disabled", attempts: [] });

    // enabled again: the failure count starts afresh
    await call("PATCH", `/v1/webhooks/${endpoint.id}`, { token: tenant.key, body: { status: "enabled" } });
    expect((await findEndpoint(db, endpoint.id))?.consecutiveFailures).toBe(0);
  });

  it("checks the URL again before each request (production configuration refuses loopback)", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const event = await insertEvent(db, "consumer.guard");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 1 }], {
      ...HOUR,
      ENVIRONMENT: "production",
    });
    const [delivery] = await deliveriesOf(tenant, endpoint.id);
    expect(delivery?.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        statusCode: null,
        durationMs: 0,
        error: "URL not allowed: only https URLs are allowed (http only to a loopback address in development)",
      }),
    ]);
  });

  it("a manual retry is a new attempt with the same event; the message of the replaced attempt is stale", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const event = await insertEvent(db, "consumer.retry");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 1 }], HOUR);
    const response = await call("POST", `/v1/webhooks/${endpoint.id}/deliveries/${deliveryId}/retry`, {
      token: tenant.key,
    });
    expect(response.status).toBe(202);
    const retried = await json<{ id: string; eventId: string; status: string }>(response);
    expect(retried).toMatchObject({ id: deliveryId, eventId: event.id, status: "pending" });
    // attempt 2 was scheduled an hour away; the retry made it attempt 3, due now (the queue makes it meanwhile)
    const stale = await runQueue("uom-webhooks", [{ tenantId: tenant.id, deliveryId, attempt: 2 }], HOUR);
    expect(stale.explicitAcks).toHaveLength(1);
    const attempts = await until("the retried attempt", async () => {
      const [row] = await deliveriesOf(tenant, endpoint.id);
      return row && row.attempts.length === 2 ? row.attempts : null;
    });
    expect(attempts.map((a) => a.attempt)).toEqual([1, 3]);
  });

  it("the per-minute sweeper re-enqueues a delivery whose attempt is overdue (a lost message)", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const event = await insertEvent(db, "consumer.lost");
    const deliveryId = await insertDelivery(db, endpoint.id, event.id, event.type);
    const longAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    await db.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?").bind(longAgo, deliveryId).run();
    await runCron("* * * * *");
    const attempts = await until("the swept attempt", async () => {
      const [row] = await deliveriesOf(tenant, endpoint.id);
      return row && row.attempts.length > 0 ? row.attempts : null;
    });
    expect(attempts[0]).toMatchObject({ attempt: 1, statusCode: null });
  });
});

describe("the delivery log, test sends and replays", () => {
  it("a test send is a webhook.test event delivered to that endpoint only", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const bystander = await createEndpoint(tenant, { events: ["*"] });
    const response = await call("POST", `/v1/webhooks/${endpoint.id}/test`, { token: tenant.key });
    expect(response.status).toBe(202);
    const delivery = await json<{ id: string; eventId: string; eventType: string; status: string }>(response);
    expect(delivery).toMatchObject({ eventType: "webhook.test", status: "pending" });
    const event = await db.prepare("SELECT * FROM outbox_events WHERE id = ?").bind(delivery.eventId).first();
    expect(event).toMatchObject({ type: "webhook.test", subject_id: endpoint.id });
    await fanOut([
      {
        id: delivery.eventId,
        type: "webhook.test",
        occurredAt: new Date().toISOString(),
        sequence: 1,
        subjectId: endpoint.id,
        data: {},
      },
    ]);
    expect(await count(db, "webhook_deliveries", "endpoint_id = ?", bystander.id)).toBe(0);
  });

  it("lists deliveries newest first with their attempts, by status, with cursor paging", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["never.sent"] });
    const ids: string[] = [];
    for (const type of ["log.one", "log.two", "log.three"]) {
      const event = await insertEvent(db, type);
      ids.push(await insertDelivery(db, endpoint.id, event.id, event.type));
    }
    await db.prepare("UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = ?").bind(ids[0]).run();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { id: string }[]; nextCursor: string | null } = await json(
        await call(
          "GET",
          `/v1/webhooks/${endpoint.id}/deliveries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          { token: tenant.key },
        ),
      );
      seen.push(...page.data.map((d) => d.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await deliveriesOf(tenant, endpoint.id, "?status=succeeded")).map((d) => d.id)).toEqual([ids[0]]);
    expect((await deliveriesOf(tenant, endpoint.id, "?status=pending")).map((d) => d.id)).toEqual([ids[2], ids[1]]);
  });

  it("replays every matching event since a time, and refuses a start beyond the event retention", async () => {
    const endpoint = await createEndpoint(tenant, { events: ["replay.*"] });
    const since = new Date(Date.now() - 1000).toISOString();
    const events = [await insertEvent(db, "replay.one"), await insertEvent(db, "replay.two")];
    await insertEvent(db, "other.one");
    const path = `/v1/webhooks/${endpoint.id}/replay`;
    const first = await call("POST", path, { token: tenant.key, body: { since } });
    expect(first.status).toBe(202);
    expect(await json(first)).toEqual({ queued: 2, nextSince: null });
    const rows = await db
      .prepare("SELECT event_id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY event_id")
      .bind(endpoint.id)
      .all<{ event_id: string }>();
    expect(rows.results.map((r) => r.event_id)).toEqual(events.map((e) => e.id).sort());
    // a delivery that finished is started again; one still on its way is left alone
    const [done] = events;
    await db
      .prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ? AND event_id = ?")
      .bind(endpoint.id, done?.id)
      .run();
    expect(await json(await call("POST", path, { token: tenant.key, body: { since } }))).toEqual({
      queued: 1,
      nextSince: null,
    });
    const tooOld = new Date(Date.now() - 400 * 86_400_000).toISOString();
    const problem = await expectProblem(
      await call("POST", path, { token: tenant.key, body: { since: tooOld } }),
      400,
      "WEBHOOK_REPLAY_TOO_OLD",
    );
    expect(problem.detail).toMatch(/30 days/);
    await expectProblem(await call("POST", path, { token: tenant.key, body: { since: "yesterday" } }), 400);
  });
});
