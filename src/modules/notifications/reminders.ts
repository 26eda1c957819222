import { backgroundContext } from "../../core/context";
import { sendPendingEvents } from "../../core/events/dispatch";
import { auditStatement } from "../audit/audit.service";
import { configuredChannels } from "./channels.service";

/**
 * Activation reminders (daily cron): users created `activationReminderDays` days ago or more, who never signed in
 * and were never reminded, get a `user.activation_reminder` event, sent like every other. The reminder is written
 * with its audit row (whose trigger makes the event) in one batch, the audit row only if the reminder row was
 * new, so concurrent runs remind once. Only users created within a week after that day are looked at, so turning
 * the feature on does not remind every old account at once.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
/** Per tenant and run: the cron runs daily, a large backlog drains over a few days. */
const BATCH = 200;
const WINDOW_DAYS = 7;

export async function remindInactiveUsers(
  env: Env,
  tenantId: string,
  db: D1Database,
  now = Date.now(),
): Promise<number> {
  const { channels, settings } = await configuredChannels(db);
  const days = settings.activationReminderDays;
  if (days === 0 || channels.size === 0) return 0;
  const createdBefore = new Date(now - days * DAY_MS).toISOString();
  const createdAfter = new Date(now - (days + WINDOW_DAYS) * DAY_MS).toISOString();
  const { results } = await db
    .prepare(
      `SELECT u.id FROM users u
       WHERE u.status = 'active' AND u.last_login_at IS NULL AND u.created_at <= ? AND u.created_at > ?
         AND NOT EXISTS (SELECT 1 FROM notification_reminders r WHERE r.user_id = u.id)
       ORDER BY u.created_at LIMIT ${BATCH}`,
    )
    .bind(createdBefore, createdAfter)
    .all<{ id: string }>();
  if (results.length === 0) return 0;
  const at = new Date(now).toISOString();
  const ctx = backgroundContext(env, tenantId, db, "activation-reminders");
  const statements: D1PreparedStatement[] = [];
  for (const { id } of results) {
    statements.push(
      db
        .prepare("INSERT INTO notification_reminders (user_id, reminded_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(id, at),
      await auditStatement(
        ctx,
        { action: "user.activation_reminder", resource: { type: "user", id } },
        { at, onlyIfPreviousChanged: true },
      ),
    );
  }
  await db.batch(statements);
  // hand the events on now rather than at the next sweep
  await sendPendingEvents(env, tenantId, db);
  return results.length;
}
