import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";
import type { DeliveryMessage } from "../../src/modules/webhooks/webhooks.queue";
import { call, json, type TestTenant } from "../helpers/api";
import { sleep } from "../helpers/db";

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: "pending" | "succeeded" | "failed";
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deadLetteredAt: string | null;
  attempts: { attempt: number; statusCode: number | null; error: string | null; durationMs: number }[];
}

/** A closed port on this machine: every request to it is refused at once. */
export const REFUSING_URL = "http://127.0.0.1:9/hook";

export async function createEndpoint(tenant: TestTenant, body: Record<string, unknown>) {
  const response = await call("POST", "/v1/webhooks", { token: tenant.key, body: { url: REFUSING_URL, ...body } });
  expect(response.status).toBe(201);
  return json<{ id: string; secret: string; events: string[] }>(response);
}

/**
 * An event written behind the API (acknowledged already, so the EVENTS queue never hands it to the fan-out on its
 * own): the tests hand it over themselves.
 */
export async function insertEvent(db: D1Database, type: string, createdAt = new Date().toISOString()) {
  const id = `evt_${crypto.randomUUID().replaceAll("-", "").slice(0, 26).toUpperCase()}`;
  await db
    .prepare(
      `INSERT INTO outbox_events (id, type, subject_id, data, created_at, sequence, sent_at, dispatched_at)
       VALUES (?1, ?2, 'sub_webhooks', '{"n":1}', ?3, 1, ?3, ?3)`,
    )
    .bind(id, type, createdAt)
    .run();
  return { id, type, tenantId: "", occurredAt: createdAt, sequence: 1, subjectId: "sub_webhooks", data: { n: 1 } };
}

/** A delivery written behind the API (no queue message is on its way for it). */
export async function insertDelivery(db: D1Database, endpointId: string, eventId: string, type: string) {
  const id = `dlv_${crypto.randomUUID().replaceAll("-", "").slice(0, 26).toUpperCase()}`;
  const at = new Date().toISOString();
  await db
    .prepare(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, attempt, next_attempt_at, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, 'pending', 1, ?5, ?5, ?5)`,
    )
    .bind(id, endpointId, eventId, type, at)
    .run();
  return id;
}

/** Runs the worker's queue handler on a real MessageBatch of `queue`, as the runtime would, with these vars. */
export async function runQueue(queue: string, bodies: DeliveryMessage[], vars: Record<string, string> = {}) {
  const batch = createMessageBatch<DeliveryMessage>(
    queue,
    bodies.map((body, i) => ({ id: `msg-${i}-${body.deliveryId}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...vars } as Env);
  return getQueueResult(batch, ctx);
}

export async function deliveriesOf(tenant: TestTenant, endpointId: string, query = ""): Promise<Delivery[]> {
  const response = await call("GET", `/v1/webhooks/${endpointId}/deliveries${query}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: Delivery[] }>(response)).data;
}

/** Polls until `check` holds (work done by the queues in the background); bounded, not a timed assertion. */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`still waiting for ${what}`);
    await sleep(50);
  }
}
