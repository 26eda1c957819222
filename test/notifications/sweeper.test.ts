import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { queuedOf } from "../../src/modules/notifications/notifications.repo";
import { OVERDUE_AFTER_MS, sweepNotifications } from "../../src/modules/notifications/sweeper";
import { call, createTenant, createUser, json, type TestTenant } from "../helpers/api";
import { rawRows, runCron, sleep, tenantDatabase } from "../helpers/db";

// The safety net for notifications whose queue message was lost (the row stays `queued` and nobody would send it),
// and the daily retention of the notification log and of webhook deliveries (DELIVERY_LOG_RETENTION_DAYS, 30).

const DAY = 24 * 3600 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();
let tenant: TestTenant;
let db: D1Database;
let userId: string;
let rowCounter = 0;

interface NotificationRow {
  id: string;
  status: string;
  attempts: number;
  due_at: string | null;
  error: string | null;
}

/** A row as the event consumer writes it, but with no queue message: what a lost send leaves behind. */
async function insertRow(fields: { status?: string; createdAt?: number; dueAt?: number | null; claimedAt?: number }) {
  const id = `ntf_sweeper${++rowCounter}`;
  const created = iso(fields.createdAt ?? Date.now());
  const due = fields.dueAt === undefined ? created : fields.dueAt === null ? null : iso(fields.dueAt);
  await db
    .prepare(
      `INSERT INTO notifications (id, event_id, event_type, template, channel, category, user_id, status, claimed_at,
         created_at, updated_at, due_at)
       VALUES (?1, ?2, 'user.created', 'user.created', 'email', 'onboarding', ?3, ?4, ?5, ?6, ?6, ?7)`,
    )
    .bind(
      id,
      `evt_sweeper${rowCounter}`,
      userId,
      fields.status ?? "queued",
      fields.claimedAt ? iso(fields.claimedAt) : null,
      created,
      due,
    )
    .run();
  return id;
}

async function rowOf(id: string): Promise<NotificationRow | undefined> {
  return (await rawRows<NotificationRow>(db, "notifications", "id = ?", id))[0];
}

async function settled(id: string): Promise<NotificationRow> {
  const end = Date.now() + 15_000;
  for (;;) {
    const row = await rowOf(id);
    if (row && row.status !== "queued") return row;
    if (Date.now() > end) throw new Error(`${id} still queued`);
    await sleep(50);
  }
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Notification sweeper" });
  db = await tenantDatabase(tenant.id);
  userId = (await createUser(tenant)).id;
});

describe("the notification sweeper", () => {
  it("re-sends a queued message overdue by minutes, once: the sender then settles it", async () => {
    const id = await insertRow({ createdAt: Date.now() - 10 * 60_000 });
    expect(await sweepNotifications(env, tenant.id, db)).toBe(1);
    // the next sweep waits as long again: the message it just sent has time to arrive
    expect((await rowOf(id))?.due_at).not.toBeNull();
    const again = await sweepNotifications(env, tenant.id, db);
    expect(again).toBe(0);
    // this tenant has no email channel: the sender got the message and decided
    const row = await settled(id);
    expect(row).toMatchObject({ status: "suppressed", attempts: 1 });
  });

  it("the per-minute cron runs it", async () => {
    const id = await insertRow({ createdAt: Date.now() - 10 * 60_000 });
    await runCron("* * * * *");
    expect((await settled(id)).status).toBe("suppressed");
  });

  it("leaves alone a message waiting for a delayed retry, one a sender holds, and one not yet overdue", async () => {
    const now = Date.now();
    const waiting = await insertRow({ createdAt: now - 3600_000, dueAt: now + 3600_000 });
    const held = await insertRow({ createdAt: now - 3600_000, dueAt: now - 3600_000, claimedAt: now - 60_000 });
    const recent = await insertRow({ createdAt: now, dueAt: now - OVERDUE_AFTER_MS / 2 });
    expect(await sweepNotifications(env, tenant.id, db, now)).toBe(0);
    for (const id of [waiting, held, recent]) expect((await rowOf(id))?.status).toBe("queued");
    // a sender that died (its claim older than five minutes) no longer holds it
    const died = await insertRow({ createdAt: now - 3600_000, dueAt: now - 3600_000, claimedAt: now - 6 * 60_000 });
    expect(await sweepNotifications(env, tenant.id, db, now)).toBe(1);
    expect((await settled(died)).status).toBe("suppressed");
    await db.prepare("DELETE FROM notifications WHERE id IN (?, ?, ?)").bind(waiting, held, recent).run();
  });

  it("a redelivered event sends its due messages again, not one waiting for a delayed retry", async () => {
    const now = Date.now();
    const due = await insertRow({ dueAt: now - 1000 });
    const waiting = await insertRow({ dueAt: now + 3600_000 });
    const legacy = await insertRow({ dueAt: null });
    const eventIds = (
      await rawRows<{ event_id: string; id: string }>(db, "notifications", "id IN (?, ?, ?)", due, waiting, legacy)
    ).map((row) => row.event_id);
    expect((await queuedOf(db, eventIds, iso(now))).sort()).toEqual([due, legacy].sort());
    await db.prepare("DELETE FROM notifications WHERE id IN (?, ?, ?)").bind(due, waiting, legacy).run();
  });
});

describe("retention of the delivery logs (daily)", () => {
  it("deletes settled notifications older than DELIVERY_LOG_RETENTION_DAYS; queued and recent ones stay", async () => {
    const now = Date.now();
    const old = await insertRow({ status: "sent", createdAt: now - 31 * DAY, dueAt: null });
    const oldFailed = await insertRow({ status: "failed", createdAt: now - 40 * DAY, dueAt: null });
    const oldQueued = await insertRow({ createdAt: now - 31 * DAY, dueAt: now + 3600_000 });
    const recent = await insertRow({ status: "sent", createdAt: now - 29 * DAY, dueAt: null });
    await runCron("17 3 * * *");
    expect(await rowOf(old)).toBeUndefined();
    expect(await rowOf(oldFailed)).toBeUndefined();
    expect((await rowOf(oldQueued))?.status).toBe("queued");
    expect((await rowOf(recent))?.status).toBe("sent");
    await db.prepare("DELETE FROM notifications WHERE id IN (?, ?)").bind(oldQueued, recent).run();
  });

  it("deletes finished webhook deliveries older than that with their attempts; pending and recent ones stay", async () => {
    const created = await call("POST", "/v1/webhooks", {
      token: tenant.key,
      body: { url: "https://hooks.example.com/retention", events: ["webhook.test"] },
    });
    expect(created.status).toBe(201);
    const endpointId = (await json<{ id: string }>(created)).id;
    const now = Date.now();
    const rows: [string, string, number][] = [
      ["whd_old_ok", "succeeded", now - 31 * DAY],
      ["whd_old_failed", "failed", now - 45 * DAY],
      ["whd_old_pending", "pending", now - 31 * DAY],
      ["whd_recent", "succeeded", now - 29 * DAY],
    ];
    await db.batch(
      rows.flatMap(([id, status, at]) => [
        db
          .prepare(
            `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'webhook.test', ?4, ?5, ?5)`,
          )
          .bind(id, endpointId, `evt_${id}`, status, iso(at)),
        db
          .prepare(
            `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, attempted_at, status_code, duration_ms)
             VALUES (?1, 1, ?2, 200, 5)`,
          )
          .bind(id, iso(at)),
      ]),
    );
    await runCron("17 3 * * *");
    const left = await rawRows<{ id: string }>(db, "webhook_deliveries", "endpoint_id = ?", endpointId);
    expect(left.map((row) => row.id).sort()).toEqual(["whd_old_pending", "whd_recent"]);
    const attempts = await rawRows<{ delivery_id: string }>(
      db,
      "webhook_delivery_attempts",
      "delivery_id LIKE 'whd_%'",
    );
    expect(attempts.map((row) => row.delivery_id).sort()).toEqual(["whd_old_pending", "whd_recent"]);
  });
});
