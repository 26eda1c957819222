/**
 * The activity tables' statements (migrations/tenant/0022_activity.sql, docs/activity.md). Every write of activity is
 * the raw events plus, in the same batch, the per-user daily rollup and the users' `last_active_at`, all derived in SQL
 * from the rows this batch actually inserted: an event sent again (same `client_event_id`) is ignored by the insert and
 * so counted nowhere.
 */

export interface ActivityRow {
  id: string;
  userId: string | null;
  type: string;
  occurredAt: string;
  ip: string | null;
  userAgent: string | null;
  properties: Record<string, unknown> | null;
  clientEventId: string | null;
  receivedAt: string;
}

/** `login` and `login_failed` are written by the login itself; product activity may not use them. */
export const LOGIN = "login";
export const LOGIN_FAILED = "login_failed";

/** Rows per statement: the rows travel as one JSON parameter, so D1's 100-parameter cap is no limit. */
const CHUNK = 500;

const COLUMNS = [
  "id",
  "user_id",
  "type",
  "occurred_at",
  "ip",
  "user_agent",
  "properties",
  "client_event_id",
  "received_at",
] as const;

const INSERT = `INSERT OR IGNORE INTO activity_events (${COLUMNS.join(", ")})
  SELECT ${COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?1)`;

/** The rollup of the events of `?1` (a JSON array of ids) that exist: the ones this batch inserted. */
const ROLLUP = `INSERT INTO activity_daily (user_id, day, events, logins, failed_logins)
  SELECT user_id, substr(occurred_at, 1, 10),
         sum(type NOT IN ('${LOGIN}', '${LOGIN_FAILED}')), sum(type = '${LOGIN}'), sum(type = '${LOGIN_FAILED}')
  FROM activity_events
  WHERE id IN (SELECT value FROM json_each(?1)) AND user_id IS NOT NULL
  GROUP BY user_id, substr(occurred_at, 1, 10)
  ON CONFLICT (user_id, day) DO UPDATE SET
    events = events + excluded.events,
    logins = logins + excluded.logins,
    failed_logins = failed_logins + excluded.failed_logins`;

/**
 * Moves `last_active_at` (and so the row's version: it is part of the user's representation) only when an inserted
 * event is at least an hour after it or on a later UTC day, so a busy user's row is rewritten about hourly and its day
 * is always the user's latest active day (what the insights count users active since a day by). Failed logins are
 * not activity.
 */
const LAST_ACTIVE = `UPDATE users SET last_active_at = latest.at, version = version + 1
  FROM (SELECT user_id, max(occurred_at) AS at FROM activity_events
        WHERE id IN (SELECT value FROM json_each(?1)) AND user_id IS NOT NULL AND type <> '${LOGIN_FAILED}'
        GROUP BY user_id) AS latest
  WHERE users.id = latest.user_id
    AND (users.last_active_at IS NULL
         OR latest.at >= strftime('%Y-%m-%dT%H:%M:%fZ', users.last_active_at, '+1 hour')
         OR substr(latest.at, 1, 10) > substr(users.last_active_at, 1, 10))`;

function valuesOf(row: ActivityRow): unknown[] {
  return [
    row.id,
    row.userId,
    row.type,
    row.occurredAt,
    row.ip,
    row.userAgent,
    row.properties === null ? null : JSON.stringify(row.properties),
    row.clientEventId,
    row.receivedAt,
  ];
}

/** The statements that record `rows`, for the caller's batch. */
export function activityStatements(db: D1Database, rows: readonly ActivityRow[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const ids = JSON.stringify(chunk.map((row) => row.id));
    statements.push(
      db.prepare(INSERT).bind(JSON.stringify(chunk.map(valuesOf))),
      db.prepare(ROLLUP).bind(ids),
      db.prepare(LAST_ACTIVE).bind(ids),
    );
  }
  return statements;
}

export interface StoredActivity {
  id: string;
  user_id: string | null;
  type: string;
  occurred_at: string;
  ip: string | null;
  user_agent: string | null;
  properties: string | null;
  client_event_id: string | null;
  received_at: string;
}

/** A user's events, newest first, after the keyset position `after` (occurred_at, id). */
export async function listActivity(
  db: D1Database,
  userId: string,
  query: { type?: string; from?: string; to?: string; after: readonly [string, string] | null; limit: number },
): Promise<StoredActivity[]> {
  const where = ["user_id = ?"];
  const params: unknown[] = [userId];
  const add = (condition: string, ...values: unknown[]) => {
    where.push(condition);
    params.push(...values);
  };
  if (query.type) add("type = ?", query.type);
  if (query.from) add("occurred_at >= ?", query.from);
  if (query.to) add("occurred_at < ?", query.to);
  if (query.after) add("(occurred_at, id) < (?, ?)", ...query.after);
  const { results } = await db
    .prepare(`SELECT * FROM activity_events WHERE ${where.join(" AND ")} ORDER BY occurred_at DESC, id DESC LIMIT ?`)
    .bind(...params, query.limit + 1)
    .all<StoredActivity>();
  return results;
}

/** Of these client event ids, the ones already recorded (a batch sent again). */
export async function knownClientEventIds(db: D1Database, ids: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const { results } = await db
      .prepare("SELECT client_event_id FROM activity_events WHERE client_event_id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(ids.slice(i, i + CHUNK)))
      .all<{ client_event_id: string }>();
    for (const row of results) known.add(row.client_event_id);
  }
  return known;
}
