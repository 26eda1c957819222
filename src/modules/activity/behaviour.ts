import { LOGIN, LOGIN_FAILED } from "./activity.repo";

/**
 * Each user's behaviour as of a cut-off, from the activity rollups (docs/activity.md): what the learned segments and
 * the churn model are trained and scored on. Only what happened before the cut-off counts, so a model trained on a
 * past cut-off never sees its own label.
 */
export interface Behaviour {
  userId: string;
  /** Days from sign-up to the cut-off. */
  tenureDays: number;
  /** Days from the last active day (a login or a product event) to the cut-off; the tenure when never active. */
  recencyDays: number;
  /** Active days in the 7 and 30 days before the cut-off. */
  activeDays7: number;
  activeDays30: number;
  /** Product events, logins and failed logins in the 30 days before the cut-off. */
  events30: number;
  logins30: number;
  failedLogins30: number;
  /** Distinct product event types in the 30 days before the cut-off (raw events: 0 beyond the plan's retention). */
  breadth30: number;
}

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface Row {
  id: string;
  created_at: string;
  last_day: string | null;
  active7: number | null;
  active30: number | null;
  events30: number | null;
  logins30: number | null;
  failed30: number | null;
  first_day: string | null;
}

/**
 * The behaviour of the users who had signed up before `cutoff`. `includeDeleted`: users deleted since count too (a
 * model trained on the past must see the users who left). `userIds`: only these. `importedHistory`: a user's sign-up
 * is the earlier of their creation and their first recorded activity, for users imported with their past activity
 * (created today, activity sent with past `occurredAt`): the churn model's choice (docs/churn.md).
 */
export async function behaviourAsOf(
  db: D1Database,
  cutoff: number,
  options: { includeDeleted?: boolean; userIds?: readonly string[]; importedHistory?: boolean } = {},
): Promise<Behaviour[]> {
  const cut = dayOf(cutoff);
  const where = [
    options.importedHistory
      ? "(u.created_at < ?4 OR EXISTS (SELECT 1 FROM activity_daily f WHERE f.user_id = u.id AND f.day < ?1))"
      : "u.created_at < ?4",
  ];
  const params: unknown[] = [
    cut,
    dayOf(cutoff - 7 * DAY_MS),
    dayOf(cutoff - 30 * DAY_MS),
    new Date(cutoff).toISOString(),
  ];
  if (!options.includeDeleted) where.push("u.status <> 'deleted'");
  if (options.userIds) {
    where.push("u.id IN (SELECT value FROM json_each(?5))");
    params.push(JSON.stringify(options.userIds));
  }
  const { results } = await db
    .prepare(
      `SELECT u.id, u.created_at,
         (SELECT max(d.day) FROM activity_daily d WHERE d.user_id = u.id AND d.day < ?1) AS last_day,
         ${options.importedHistory ? "(SELECT min(d.day) FROM activity_daily d WHERE d.user_id = u.id AND d.day < ?1)" : "NULL"} AS first_day,
         w.active7, w.active30, w.events30, w.logins30, w.failed30
       FROM users u
       LEFT JOIN (
         SELECT user_id, sum(day >= ?2 AND (events > 0 OR logins > 0)) AS active7,
                sum(events > 0 OR logins > 0) AS active30, sum(events) AS events30, sum(logins) AS logins30,
                sum(failed_logins) AS failed30
         FROM activity_daily WHERE day >= ?3 AND day < ?1 GROUP BY user_id
       ) AS w ON w.user_id = u.id
       WHERE ${where.join(" AND ")}`,
    )
    .bind(...params)
    .all<Row>();
  const breadth = await breadthBefore(db, cutoff);
  return results.map((row) => {
    const created = Date.parse(row.created_at);
    const signedUp =
      options.importedHistory && row.first_day !== null ? Math.min(created, Date.parse(row.first_day)) : created;
    const tenureDays = Math.max(0, (cutoff - signedUp) / DAY_MS);
    return {
      userId: row.id,
      tenureDays,
      recencyDays: row.last_day === null ? tenureDays : (Date.parse(cut) - Date.parse(row.last_day)) / DAY_MS,
      activeDays7: row.active7 ?? 0,
      activeDays30: row.active30 ?? 0,
      events30: row.events30 ?? 0,
      logins30: row.logins30 ?? 0,
      failedLogins30: row.failed30 ?? 0,
      breadth30: breadth.get(row.id) ?? 0,
    };
  });
}

/** Distinct product event types per user in the 30 days before `cutoff`. */
async function breadthBefore(db: D1Database, cutoff: number): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      `SELECT user_id, count(DISTINCT type) AS types FROM activity_events
       WHERE occurred_at >= ? AND occurred_at < ? AND user_id IS NOT NULL AND type NOT IN ('${LOGIN}', '${LOGIN_FAILED}')
       GROUP BY user_id`,
    )
    .bind(new Date(cutoff - 30 * DAY_MS).toISOString(), new Date(cutoff).toISOString())
    .all<{ user_id: string; types: number }>();
  return new Map(results.map((row) => [row.user_id, row.types]));
}

/** The users active (a login or a product event) on some day in [from, to): the churn label's complement. */
export async function activeBetween(db: D1Database, from: number, to: number): Promise<Set<string>> {
  const { results } = await db
    .prepare("SELECT DISTINCT user_id FROM activity_daily WHERE day >= ? AND day < ? AND (events > 0 OR logins > 0)")
    .bind(dayOf(from), dayOf(to))
    .all<{ user_id: string }>();
  return new Set(results.map((row) => row.user_id));
}
