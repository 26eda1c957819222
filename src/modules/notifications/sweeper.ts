import { deliveryLogCutoff } from "../../core/events/retention";
import { enqueueNotifications } from "./notifications.queue";
import { claimOverdueNotifications, purgeSettledNotifications } from "./notifications.repo";
import { CLAIM_TTL_MS } from "./sender";

/** A queued message this far past its due time has lost its queue message: the sweeper sends another. */
export const OVERDUE_AFTER_MS = 2 * 60_000;
const PURGE_PAGE = 500;
const PURGE_PAGES_PER_RUN = 20;

/**
 * The per-minute safety net for one tenant: queued notifications overdue by minutes and held by no sender get a new
 * queue message (a lost send, a crashed consumer). A duplicate is harmless: the sender's claim lets one message send.
 * Returns how many were re-sent.
 */
export async function sweepNotifications(env: Env, tenantId: string, db: D1Database, now = Date.now()) {
  let sent = 0;
  for (;;) {
    const ids = await claimOverdueNotifications(
      db,
      new Date(now - OVERDUE_AFTER_MS).toISOString(),
      new Date(now - CLAIM_TTL_MS).toISOString(),
      new Date(now).toISOString(),
    );
    await enqueueNotifications(env, tenantId, ids);
    sent += ids.length;
    if (ids.length < 100) return sent;
  }
}

/**
 * Daily: the log's settled messages (sent, failed, suppressed) older than DELIVERY_LOG_RETENTION_DAYS go, in bounded
 * pages (a backlog is worked off over several days). Queued ones stay whatever their age. Returns how many went.
 */
export async function purgeNotificationLog(env: Env, db: D1Database, now = Date.now()): Promise<number> {
  const before = deliveryLogCutoff(env, now);
  let deleted = 0;
  for (let page = 0; page < PURGE_PAGES_PER_RUN; page++) {
    const changes = await purgeSettledNotifications(db, before, PURGE_PAGE);
    deleted += changes;
    if (changes < PURGE_PAGE) break;
  }
  return deleted;
}
