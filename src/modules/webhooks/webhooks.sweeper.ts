import { deliveryLogCutoff } from "../../core/events/retention";
import { webhookSettings } from "./webhooks.config";
import { claimOverdue } from "./webhooks.deliveries.repo";
import { enqueueAttempts } from "./webhooks.queue";

/** An attempt this late has lost its message (a failed send, a crashed consumer): the sweeper sends it again. */
export const OVERDUE_AFTER_MS = 2 * 60_000;

/**
 * The per-minute safety net for one tenant: pending deliveries whose attempt is overdue by minutes (and not being
 * made) get a new message. A duplicate is harmless: the consumer's claim lets one message make the attempt.
 */
export async function sweepWebhookDeliveries(env: Env, tenantId: string, db: D1Database, now = Date.now()) {
  const { timeoutMs } = webhookSettings(env);
  let sent = 0;
  for (;;) {
    const due = await claimOverdue(
      db,
      new Date(now - OVERDUE_AFTER_MS).toISOString(),
      new Date(now - timeoutMs - 60_000).toISOString(),
      new Date(now).toISOString(),
    );
    await enqueueAttempts(env, tenantId, due);
    sent += due.length;
    if (due.length < 100) return sent;
  }
}

const PURGE_PAGE = 500;
const PURGE_PAGES_PER_RUN = 20;

/**
 * Daily: finished deliveries (succeeded or failed) created before DELIVERY_LOG_RETENTION_DAYS go with their attempts,
 * in bounded pages (a backlog is worked off over several days). Pending ones stay. Returns how many deliveries went.
 */
export async function purgeWebhookDeliveries(env: Env, db: D1Database, now = Date.now()): Promise<number> {
  const page = `SELECT id FROM webhook_deliveries WHERE created_at < ?1 AND status != 'pending'
                ORDER BY created_at LIMIT ${PURGE_PAGE}`;
  const before = deliveryLogCutoff(env, now);
  let deleted = 0;
  for (let n = 0; n < PURGE_PAGES_PER_RUN; n++) {
    // one batch, so the two statements see the same page
    const [, deliveries] = await db.batch([
      db.prepare(`DELETE FROM webhook_delivery_attempts WHERE delivery_id IN (${page})`).bind(before),
      db.prepare(`DELETE FROM webhook_deliveries WHERE id IN (${page})`).bind(before),
    ]);
    const changes = deliveries?.meta.changes ?? 0;
    deleted += changes;
    if (changes < PURGE_PAGE) break;
  }
  return deleted;
}
