import { sleep, tenantDatabase } from "../helpers/db";

export interface OutboxEvent {
  id: string;
  type: string;
  subject_id: string | null;
  data: string;
  secret_sealed: string | null;
  created_at: string;
  sequence: number;
  sent_at: string | null;
  send_count: number;
  dispatched_at: string | null;
  dead_at: string | null;
}

/** Polls a condition the queue makes true in the background (its consumer runs on its own); no fixed wait. */
export async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

/** Waits until the tenant's log holds an event of this type about this subject (a platform event's copy). */
export async function untilLogged(tenantId: string, type: string, subjectId: string): Promise<OutboxEvent> {
  let found: OutboxEvent | undefined;
  await until(async () => {
    found = (await outboxOf(tenantId, subjectId)).find((event) => event.type === type);
    return found !== undefined;
  });
  if (!found) throw new Error(`${type} about ${subjectId} never reached ${tenantId}'s log`);
  return found;
}

/** The tenant's outbox rows about a subject, in order of their sequence. */
export async function outboxOf(tenantId: string, subjectId: string): Promise<OutboxEvent[]> {
  const db = await tenantDatabase(tenantId);
  const { results } = await db
    .prepare("SELECT * FROM outbox_events WHERE subject_id = ? ORDER BY sequence")
    .bind(subjectId)
    .all<OutboxEvent>();
  return results;
}

/** `[type, sequence]` of a subject's events. */
export async function typesOf(tenantId: string, subjectId: string): Promise<[string, number][]> {
  return (await outboxOf(tenantId, subjectId)).map((e) => [e.type, e.sequence]);
}

/** An outbox row written behind the API, for the queue tests: no request ever sends it on its own. */
export async function insertEvent(
  db: D1Database,
  row: {
    id: string;
    subjectId: string;
    sentAt?: string | null;
    dispatchedAt?: string | null;
    createdAt?: string;
    sequence?: number;
    sendCount?: number;
    deadAt?: string | null;
  },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO outbox_events (id, type, subject_id, data, created_at, sequence, sent_at, dispatched_at, send_count, dead_at)
       VALUES (?, 'test.synthetic', ?, '{"n":1}', ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      row.id,
      row.subjectId,
      row.createdAt ?? new Date().toISOString(),
      row.sequence ?? 1,
      row.sentAt ?? null,
      row.dispatchedAt ?? null,
      row.sendCount ?? (row.sentAt ? 1 : 0),
      row.deadAt ?? null,
    )
    .run();
}

export async function eventRow(db: D1Database, id: string): Promise<OutboxEvent | null> {
  return db.prepare("SELECT * FROM outbox_events WHERE id = ?").bind(id).first<OutboxEvent>();
}
