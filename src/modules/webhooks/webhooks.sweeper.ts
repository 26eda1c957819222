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
