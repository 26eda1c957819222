import { tenantDatabase } from "../helpers/db";

export interface OutboxEvent {
  id: string;
  type: string;
  subject_id: string | null;
  data: string;
  secret_sealed: string | null;
  created_at: string;
  sequence: number;
  sent_at: string | null;
  dispatched_at: string | null;
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
  row: { id: string; subjectId: string; sentAt?: string | null; dispatchedAt?: string | null; createdAt?: string },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO outbox_events (id, type, subject_id, data, created_at, sequence, sent_at, dispatched_at)
       VALUES (?, 'test.synthetic', ?, '{"n":1}', ?, 1, ?, ?)`,
    )
    .bind(
      row.id,
      row.subjectId,
      row.createdAt ?? new Date().toISOString(),
      row.sentAt ?? null,
      row.dispatchedAt ?? null,
    )
    .run();
}

export async function eventRow(db: D1Database, id: string): Promise<OutboxEvent | null> {
  return db.prepare("SELECT * FROM outbox_events WHERE id = ?").bind(id).first<OutboxEvent>();
}
