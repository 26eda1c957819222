import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventConsumer } from "../../src/core/events/consumers";
import { EVENT_MAX_SENDS } from "../../src/core/events/delivery";
import { consumeEvents, type EventMessage } from "../../src/core/events/dispatch";
import worker from "../../src/index";
import {
  ADMIN_TOKEN,
  call,
  createSubAccount,
  createTenant,
  createUser,
  expectProblem,
  json,
  type TestTenant,
} from "../helpers/api";
import { rawRows, runCron, tenantDatabase } from "../helpers/db";
import { eventRow, insertEvent, outboxOf, until, untilLogged } from "./support";

/** Platform events (control database), the re-send cap, the dead-letter queue and retention: docs/events.md. */

interface PlatformEvent {
  id: string;
  tenant_id: string;
  parent_id: string | null;
  type: string;
  subject_id: string | null;
  data: string;
  sequence: number;
  created_at: string;
  sent_at: string | null;
  send_count: number;
  dispatched_at: string | null;
  dead_at: string | null;
}

const TENANT_NAME = "Platform Events Corp Ltd";
let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: TENANT_NAME, plan: "enterprise" });
  db = await tenantDatabase(tenant.id);
});

async function platformRows(where: string, ...params: unknown[]): Promise<PlatformEvent[]> {
  return rawRows<PlatformEvent>(env.CONTROL_DB, "platform_events", `${where} ORDER BY rowid`, ...params);
}

async function auditIds(action: string, resourceId: string): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(
    env.CONTROL_DB,
    "audit_events",
    "action = ? AND resource_id = ? ORDER BY seq",
    action,
    resourceId,
  );
  return rows.map((row) => `evt_${row.id.slice("aud_".length)}`);
}

function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return call(method, path, { token: ADMIN_TOKEN, body, headers });
}

/** Runs the worker's queue handler on a real MessageBatch, as the runtime would. */
async function deliver(queue: string, bodies: EventMessage[]) {
  const batch = createMessageBatch<EventMessage>(
    queue,
    bodies.map((body, i) => ({ id: `m-${i}-${body.id}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

function platformMessage(row: PlatformEvent): EventMessage {
  return {
    id: row.id,
    type: row.type,
    tenantId: row.tenant_id,
    occurredAt: row.created_at,
    sequence: row.sequence,
    subjectId: row.subject_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    source: "platform",
    parentId: row.parent_id,
  };
}

describe("platform events", () => {
  it("tenant, plan and first-key changes write their event in the statement of their audit row", async () => {
    const renamed = await admin("PATCH", `/v1/tenants/${tenant.id}`, { name: `${TENANT_NAME} renamed` });
    expect(renamed.status).toBe(200);
    const request = await call("POST", "/v1/plan/change-requests", { token: tenant.key, body: { plan: "pro" } });
    expect(request.status).toBe(201);
    const { id: requestId } = await json<{ id: string }>(request);
    expect((await call("DELETE", `/v1/plan/change-requests/${requestId}`, { token: tenant.key })).status).toBe(200);
    expect((await admin("PATCH", `/v1/tenants/${tenant.id}`, { plan: "pro" })).status).toBe(200);
    expect((await admin("POST", `/v1/tenants/${tenant.id}/data-keys/rotate`)).status).toBe(200);
    // refused changes write no audit row, so no event: a stale If-Match, a plan the tenant is on already
    await expectProblem(
      await admin("PATCH", `/v1/tenants/${tenant.id}`, { name: "Stale" }, { "if-match": '"1"' }),
      412,
    );
    await expectProblem(
      await call("POST", "/v1/plan/change-requests", { token: tenant.key, body: { plan: "pro" } }),
      409,
    );

    const about = await platformRows("tenant_id = ?", tenant.id);
    const typed = (type: string) => about.filter((row) => row.type === type);
    expect(about.map((row) => row.type)).toEqual([
      "tenant.created",
      "api_key.created",
      "tenant.updated",
      "plan.change_requested",
      "plan.change_request_cancelled",
      "tenant.updated",
      "plan.changed",
      "tenant.data_key_rotated",
    ]);
    // each event is its audit row's, under evt_ (the same ULID)
    expect(typed("tenant.created").map((row) => row.id)).toEqual(await auditIds("tenant.created", tenant.id));
    expect(typed("api_key.created").map((row) => row.id)).toEqual(await auditIds("api_key.created", tenant.keyId));
    const updates = await auditIds("tenant.updated", tenant.id);
    expect(typed("tenant.updated").map((row) => row.id)).toEqual(updates);
    expect(typed("plan.changed").map((row) => row.id)).toEqual([`${updates[1]}_plan`]);
    expect(typed("plan.change_requested").map((row) => row.id)).toEqual(
      await auditIds("plan.change_requested", requestId),
    );

    // per subject, from 1: the tenant's own events, the request's, the key's
    expect(about.filter((row) => row.subject_id === tenant.id).map((row) => [row.type, row.sequence])).toEqual([
      ["tenant.created", 1],
      ["tenant.updated", 2],
      ["tenant.updated", 3],
      ["plan.changed", 4],
      ["tenant.data_key_rotated", 5],
    ]);
    expect(about.filter((row) => row.subject_id === requestId).map((row) => row.sequence)).toEqual([1, 2]);
    expect(typed("api_key.created")[0]).toMatchObject({ subject_id: tenant.keyId, sequence: 1, parent_id: null });

    // names only: no tenant name anywhere; plan names are facts of the plan events
    for (const row of about) expect(row.data).not.toContain("Platform Events");
    expect(JSON.parse(typed("tenant.updated")[0]?.data ?? "{}")).toMatchObject({
      resource: { type: "tenant", id: tenant.id },
      actor: { type: "admin", id: "admin" },
      fields: ["name"],
      tenantId: tenant.id,
    });
    expect(JSON.parse(typed("plan.changed")[0]?.data ?? "{}")).toMatchObject({
      fields: ["plan"],
      plan: { from: "enterprise", to: "pro" },
    });
    expect(JSON.parse(typed("plan.change_requested")[0]?.data ?? "{}")).toMatchObject({
      actor: { type: "api_key", id: tenant.keyId },
      plan: { from: "enterprise", to: "pro" },
    });
  });

  it("are sent after commit and copied into the tenant's log, which lists them as dispatched", async () => {
    await untilLogged(tenant.id, "tenant.data_key_rotated", tenant.id);
    expect(
      await until(async () => (await platformRows("tenant_id = ? AND dispatched_at IS NULL", tenant.id)).length === 0),
    ).toBe(true);
    const response = await call("GET", "/v1/events?type=tenant.*&limit=100", { token: tenant.key });
    const { data } = await json<{ data: (EventMessage & { delivery: string })[] }>(response);
    expect(data.map((event) => event.type)).toEqual([
      "tenant.data_key_rotated",
      "tenant.updated",
      "tenant.updated",
      "tenant.created",
    ]);
    expect(data.every((event) => event.tenantId === tenant.id && event.delivery === "dispatched")).toBe(true);
    const plans = await call("GET", "/v1/events?type=plan.*", { token: tenant.key });
    expect((await json<{ data: EventMessage[] }>(plans)).data.map((event) => event.type)).toEqual([
      "plan.changed",
      "plan.change_request_cancelled",
      "plan.change_requested",
    ]);
    // the log numbers the tenant's own events as one sequence
    expect((await outboxOf(tenant.id, tenant.id)).map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
  });

  it("a sub-account's events also reach its parent's log; its deletion reaches the parent only", async () => {
    const child = await createSubAccount(tenant, { name: "Child Account Name" });
    const [created] = await platformRows("tenant_id = ? AND type = 'tenant.created'", child.id);
    expect(created).toMatchObject({ parent_id: tenant.id, sequence: 1 });
    await untilLogged(child.id, "tenant.created", child.id);
    const inParent = await untilLogged(tenant.id, "tenant.created", child.id);
    expect(inParent).toMatchObject({ id: created?.id, sequence: 1 });
    expect(JSON.parse(inParent.data)).toMatchObject({
      tenantId: child.id,
      actor: { type: "api_key", id: tenant.keyId },
    });
    await untilLogged(tenant.id, "api_key.created", child.keyId);

    expect((await call("DELETE", `/v1/tenants/${child.id}`, { token: tenant.key })).status).toBe(204);
    const [deleted] = await platformRows("tenant_id = ? AND type = 'tenant.deleted'", child.id);
    expect(deleted).toMatchObject({ parent_id: tenant.id, sequence: 2 });
    const gone = await untilLogged(tenant.id, "tenant.deleted", child.id);
    expect(gone).toMatchObject({ id: deleted?.id, sequence: 2 });
    expect(await until(async () => (await platformRows("id = ?", deleted?.id))[0]?.dispatched_at != null)).toBe(true);
  });

  it("a top-level tenant's deletion has no log left: acknowledged and dropped", async () => {
    const doomed = await createTenant({ name: "Doomed" });
    expect((await admin("DELETE", `/v1/tenants/${doomed.id}`)).status).toBe(204);
    const [deleted] = await platformRows("tenant_id = ? AND type = 'tenant.deleted'", doomed.id);
    expect(deleted?.parent_id).toBeNull();
    const result = await deliver("uom-events", [platformMessage(deleted as PlatformEvent)]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect((await platformRows("id = ?", deleted?.id))[0]?.dispatched_at).toEqual(expect.any(String));
  });

  it("a redelivered platform event is copied once, keeps its number, and is handed to consumers once", async () => {
    const user = await createUser(tenant); // something newer in the log, so ordering is not by arrival alone
    const [row] = await platformRows("tenant_id = ? AND type = 'plan.changed'", tenant.id);
    const synthetic: PlatformEvent = {
      ...(row as PlatformEvent),
      id: `evt_redelivery_${crypto.randomUUID()}`,
      subject_id: user.id,
    };
    await env.CONTROL_DB.prepare(
      `INSERT INTO platform_events (id, tenant_id, parent_id, type, subject_id, data, sequence, created_at, sent_at, send_count)
       VALUES (?, ?, NULL, 'plan.changed', ?, ?, 1, ?, ?, 1)`,
    )
      .bind(synthetic.id, tenant.id, user.id, synthetic.data, synthetic.created_at, new Date().toISOString())
      .run();
    const seen: [string, string[]][] = [];
    const recording: EventConsumer = {
      name: "recording",
      consume: async (ctx, events) => {
        seen.push([ctx.tenantId, events.map((event) => event.id)]);
      },
    };
    const run = async () => {
      const batch = createMessageBatch<EventMessage>("uom-events", [
        { id: "p-0", timestamp: new Date(), attempts: 1, body: platformMessage(synthetic) },
      ]);
      const ctx = createExecutionContext();
      await consumeEvents({ ...env, LOG_LEVEL: "silent" }, batch.messages, [recording]);
      return getQueueResult(batch, ctx);
    };
    expect((await run()).explicitAcks).toEqual(["p-0"]);
    const copy = await eventRow(db, synthetic.id);
    expect(copy).toMatchObject({ type: "plan.changed", subject_id: user.id, sequence: 2 });
    expect(copy?.dispatched_at).toEqual(expect.any(String));
    const dispatchedAt = (await platformRows("id = ?", synthetic.id))[0]?.dispatched_at;
    expect(dispatchedAt).toEqual(expect.any(String));

    expect((await run()).explicitAcks).toEqual(["p-0"]);
    expect(await eventRow(db, synthetic.id)).toEqual(copy);
    expect((await platformRows("id = ?", synthetic.id))[0]?.dispatched_at).toBe(dispatchedAt);
    expect(seen).toEqual([[tenant.id, [synthetic.id]]]);
    expect((await outboxOf(tenant.id, user.id)).map((event) => event.sequence)).toEqual([1, 2]);
  });
});

describe("the re-send cap and the dead-letter queue", () => {
  it(`the sweeper sends an event ${EVENT_MAX_SENDS} times at most, then marks it dead`, async () => {
    const longAgo = new Date(Date.now() - 120_000).toISOString();
    const lastTry = `evt_cap_${crypto.randomUUID()}`;
    const spent = `evt_cap_${crypto.randomUUID()}`;
    const base = { subjectId: "sub_cap", createdAt: longAgo, sentAt: longAgo };
    await insertEvent(db, { ...base, id: lastTry, sendCount: EVENT_MAX_SENDS - 1 });
    await insertEvent(db, { ...base, id: spent, sendCount: EVENT_MAX_SENDS });
    const platformSpent = `evt_cap_${crypto.randomUUID()}`;
    await env.CONTROL_DB.prepare(
      `INSERT INTO platform_events (id, tenant_id, type, subject_id, data, sequence, created_at, sent_at, send_count)
       VALUES (?, ?, 'tenant.updated', ?, '{}', 1, ?, ?, ?)`,
    )
      .bind(platformSpent, tenant.id, platformSpent, longAgo, longAgo, EVENT_MAX_SENDS)
      .run();

    await runCron("* * * * *");

    const retried = await eventRow(db, lastTry);
    expect(retried?.send_count).toBe(EVENT_MAX_SENDS);
    expect((retried?.sent_at ?? "") > longAgo).toBe(true);
    expect(await eventRow(db, spent)).toMatchObject({
      send_count: EVENT_MAX_SENDS,
      sent_at: longAgo,
      dispatched_at: null,
    });
    expect((await eventRow(db, spent))?.dead_at).toEqual(expect.any(String));
    expect((await platformRows("id = ?", platformSpent))[0]).toMatchObject({
      sent_at: longAgo,
      dead_at: expect.any(String),
    });

    const response = await call("GET", "/v1/events?delivery=dead", { token: tenant.key });
    const { data } = await json<{ data: (EventMessage & { delivery: string })[] }>(response);
    expect(data.map((event) => [event.id, event.delivery])).toContainEqual([spent, "dead"]);
    expect(data.every((event) => event.delivery === "dead")).toBe(true);
    await expectProblem(await call("GET", "/v1/events?delivery=lost", { token: tenant.key }), 400);
  });

  it("the dead-letter queue marks its events dead once, never over an acknowledgement", async () => {
    const now = new Date().toISOString();
    const pending = `evt_dlq_${crypto.randomUUID()}`;
    const acknowledged = `evt_dlq_${crypto.randomUUID()}`;
    await insertEvent(db, { id: pending, subjectId: "sub_dlq", sentAt: now });
    await insertEvent(db, { id: acknowledged, subjectId: "sub_dlq", sentAt: now, dispatchedAt: now });
    const platformPending = `evt_dlq_${crypto.randomUUID()}`;
    await env.CONTROL_DB.prepare(
      `INSERT INTO platform_events (id, tenant_id, type, subject_id, data, sequence, created_at, sent_at, send_count)
       VALUES (?, ?, 'tenant.updated', ?, '{}', 1, ?, ?, 1)`,
    )
      .bind(platformPending, tenant.id, platformPending, now, now)
      .run();
    const tenantMessage = (id: string): EventMessage => ({
      id,
      type: "test.synthetic",
      tenantId: tenant.id,
      occurredAt: now,
      sequence: 1,
      subjectId: "sub_dlq",
      data: {},
    });
    const [platformRow] = await platformRows("id = ?", platformPending);
    const bodies = [tenantMessage(pending), tenantMessage(acknowledged), platformMessage(platformRow as PlatformEvent)];

    const first = await deliver("uom-events-dlq", bodies);
    expect(first.explicitAcks).toHaveLength(3);
    const deadAt = (await eventRow(db, pending))?.dead_at;
    expect(deadAt).toEqual(expect.any(String));
    expect(await eventRow(db, acknowledged)).toMatchObject({ dispatched_at: now, dead_at: null });
    const platformDeadAt = (await platformRows("id = ?", platformPending))[0]?.dead_at;
    expect(platformDeadAt).toEqual(expect.any(String));

    const again = await deliver("uom-events-dlq", bodies);
    expect(again.explicitAcks).toHaveLength(3);
    expect((await eventRow(db, pending))?.dead_at).toBe(deadAt);
    expect((await platformRows("id = ?", platformPending))[0]?.dead_at).toBe(platformDeadAt);
  });
});

describe("retention (daily job, EVENT_RETENTION_DAYS)", () => {
  it("deletes delivered and dead events past the window, keeps each subject's newest, and numbering continues", async () => {
    const user = await createUser(tenant);
    for (const name of ["One", "Two"]) {
      expect((await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name } })).status).toBe(200);
    }
    expect(
      await until(async () => (await outboxOf(tenant.id, user.id)).every((event) => event.dispatched_at !== null)),
    ).toBe(true);
    const old = new Date(Date.now() - 40 * 24 * 3600_000).toISOString();
    await db.prepare("UPDATE outbox_events SET created_at = ? WHERE subject_id = ?").bind(old, user.id).run();
    await insertEvent(db, { id: `evt_ret_pending_${crypto.randomUUID()}`, subjectId: "sub_ret", createdAt: old });
    await insertEvent(db, {
      id: `evt_ret_pending_${crypto.randomUUID()}`,
      subjectId: "sub_ret",
      createdAt: old,
      sequence: 2,
    });
    const dead = `evt_ret_dead_${crypto.randomUUID()}`;
    await insertEvent(db, { id: dead, subjectId: "sub_ret_dead", createdAt: old, deadAt: old });
    await insertEvent(db, { id: `evt_ret_${crypto.randomUUID()}`, subjectId: "sub_ret_dead", sequence: 2 });
    // more than the 500 rows of one page, every 100th still pending (kept, and skipped page after page)
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO outbox_events (id, type, subject_id, data, created_at, sequence, sent_at, send_count, dispatched_at)
         SELECT printf('evt_ret_bulk_%04d', i), 'test.synthetic', 'sub_ret_bulk', '{}', ?1, i, ?1, 1,
                CASE WHEN i % 100 = 0 THEN NULL ELSE ?1 END
         FROM n`,
      )
      .bind(old)
      .run();
    // the platform outbox alike: the tenant's old events, all delivered
    await env.CONTROL_DB.prepare(
      "UPDATE platform_events SET created_at = ?, dispatched_at = coalesce(dispatched_at, ?) WHERE subject_id = ? AND dead_at IS NULL",
    )
      .bind(old, old, tenant.id)
      .run();

    await runCron("17 3 * * *");

    expect((await outboxOf(tenant.id, user.id)).map((event) => [event.type, event.sequence])).toEqual([
      ["user.updated", 3],
    ]);
    expect((await outboxOf(tenant.id, "sub_ret")).map((event) => event.sequence)).toEqual([1, 2]);
    expect(await eventRow(db, dead)).toBeNull();
    // the pending ones (every 100th, 1200 among them, the newest) are left
    expect((await outboxOf(tenant.id, "sub_ret_bulk")).map((event) => event.sequence)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i + 1) * 100),
    );
    expect((await outboxOf(tenant.id, "sub_ret_dead")).map((event) => event.sequence)).toEqual([2]);
    expect((await platformRows("subject_id = ?", tenant.id)).map((row) => [row.type, row.sequence])).toEqual([
      ["tenant.data_key_rotated", 5],
    ]);

    expect((await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name: "Three" } })).status).toBe(
      200,
    );
    expect((await outboxOf(tenant.id, user.id)).map((event) => [event.type, event.sequence])).toEqual([
      ["user.updated", 3],
      ["user.updated", 4],
    ]);
    expect((await admin("PATCH", `/v1/tenants/${tenant.id}`, { name: "After retention" })).status).toBe(200);
    expect((await platformRows("subject_id = ?", tenant.id)).map((row) => [row.type, row.sequence])).toEqual([
      ["tenant.data_key_rotated", 5],
      ["tenant.updated", 6],
    ]);
  });
});
