import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { EventConsumer } from "../../src/core/events/consumers";
import { consumeEvents, type EventMessage } from "../../src/core/events/dispatch";
import worker from "../../src/index";
import { createTenant, createUser, type TestTenant } from "../helpers/api";
import { runCron, sleep, tenantDatabase } from "../helpers/db";
import { eventRow, insertEvent, outboxOf, until } from "./support";

let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: "Event queue" });
  db = await tenantDatabase(tenant.id);
});

function message(id: string, tenantId = tenant.id): EventMessage {
  return {
    id,
    type: "test.synthetic",
    tenantId,
    occurredAt: new Date().toISOString(),
    sequence: 1,
    subjectId: "sub_queue",
    data: {},
  };
}

/** Runs the worker's queue handler on a real MessageBatch, as the runtime would. */
async function consume(bodies: EventMessage[]) {
  const batch = createMessageBatch<EventMessage>(
    "uom-events",
    bodies.map((body, i) => ({ id: `msg-${i}-${body.id}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

describe("the EVENTS queue", () => {
  it("a write sends its events after commit (sent_at), and the consumer acknowledges them (dispatched_at)", async () => {
    const user = await createUser(tenant);
    const acknowledged = await until(async () => {
      const [event] = await outboxOf(tenant.id, user.id);
      return event?.sent_at != null && event.dispatched_at != null;
    });
    expect(acknowledged).toBe(true);
  });

  it("the consumer marks each event once: a redelivery acks and changes nothing", async () => {
    const ids = [`evt_q_${crypto.randomUUID()}`, `evt_q_${crypto.randomUUID()}`];
    for (const id of ids) await insertEvent(db, { id, subjectId: "sub_queue", sentAt: new Date().toISOString() });
    const first = await consume(ids.map((id) => message(id)));
    expect(first.explicitAcks.sort()).toEqual(ids.map((id, i) => `msg-${i}-${id}`).sort());
    expect(first.retryMessages).toEqual([]);
    const marked = await Promise.all(ids.map(async (id) => (await eventRow(db, id))?.dispatched_at));
    expect(marked.every((at) => typeof at === "string")).toBe(true);

    await sleep(5);
    const again = await consume(ids.map((id) => message(id)));
    expect(again.explicitAcks).toHaveLength(2);
    expect(await Promise.all(ids.map(async (id) => (await eventRow(db, id))?.dispatched_at))).toEqual(marked);
  });

  it("hands each tenant's events to every consumer before acknowledging; a consumer failure retries them", async () => {
    const ids = [`evt_c_${crypto.randomUUID()}`, `evt_c_${crypto.randomUUID()}`];
    for (const id of ids) await insertEvent(db, { id, subjectId: "sub_queue", sentAt: new Date().toISOString() });
    const seen: string[][] = [];
    const recording: EventConsumer = {
      name: "recording",
      consume: async (ctx, events) => {
        expect(ctx.tenantId).toBe(tenant.id);
        seen.push(events.map((event) => event.id));
      },
    };
    const failing: EventConsumer = {
      name: "failing",
      consume: async () => {
        throw new Error("consumer down");
      },
    };
    const run = async (consumers: EventConsumer[]) => {
      const batch = createMessageBatch<EventMessage>(
        "uom-events",
        ids.map((id, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts: 1, body: message(id) })),
      );
      const ctx = createExecutionContext();
      await consumeEvents({ ...env, LOG_LEVEL: "silent" }, batch.messages, consumers);
      return getQueueResult(batch, ctx);
    };

    const failed = await run([recording, failing]);
    expect(failed.retryMessages.map((m: { msgId: string }) => m.msgId).sort()).toEqual(["m-0", "m-1"]);
    expect(await Promise.all(ids.map(async (id) => (await eventRow(db, id))?.dispatched_at))).toEqual([null, null]);

    const ok = await run([recording]);
    expect(ok.explicitAcks.sort()).toEqual(["m-0", "m-1"]);
    expect(seen).toEqual([ids, ids]);
    const marked = await Promise.all(ids.map(async (id) => (await eventRow(db, id))?.dispatched_at));
    expect(marked.every((at) => typeof at === "string")).toBe(true);
  });

  it("acks events of an unknown tenant and messages that are not events, without retrying them", async () => {
    const result = await consume([message("evt_nobody", "ten_does_not_exist")]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    const batch = createMessageBatch("uom-events", [{ id: "junk", timestamp: new Date(), attempts: 1, body: "junk" }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["junk"]);
  });

  it("the per-minute sweeper sends rows never sent or unacknowledged for a minute, and leaves the rest", async () => {
    const now = Date.now();
    const longAgo = new Date(now - 120_000).toISOString();
    const recently = new Date(now - 10_000).toISOString();
    const rows = {
      neverSent: `evt_s_${crypto.randomUUID()}`,
      stale: `evt_s_${crypto.randomUUID()}`,
      inFlight: `evt_s_${crypto.randomUUID()}`,
      done: `evt_s_${crypto.randomUUID()}`,
    };
    await insertEvent(db, { id: rows.neverSent, subjectId: "sub_sweep", createdAt: longAgo });
    await insertEvent(db, { id: rows.stale, subjectId: "sub_sweep", createdAt: longAgo, sentAt: longAgo });
    await insertEvent(db, { id: rows.inFlight, subjectId: "sub_sweep", createdAt: recently, sentAt: recently });
    await insertEvent(db, {
      id: rows.done,
      subjectId: "sub_sweep",
      createdAt: longAgo,
      sentAt: longAgo,
      dispatchedAt: longAgo,
    });

    await runCron("* * * * *");

    const rowOf = async (id: string) => eventRow(db, id);
    expect((await rowOf(rows.neverSent))?.sent_at).toBeTruthy();
    expect(((await rowOf(rows.stale))?.sent_at ?? "") > longAgo).toBe(true);
    expect((await rowOf(rows.inFlight))?.sent_at).toBe(recently);
    expect(await rowOf(rows.done)).toMatchObject({ sent_at: longAgo, dispatched_at: longAgo });
  });
});
