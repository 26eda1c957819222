/** What the EVENTS queue carries: the event as `GET /v1/events` shows it (the sealed secret stays in the outbox). */
export interface EventMessage {
  id: string;
  type: string;
  /** The tenant whose log holds the event; for a platform event, the tenant it concerns. */
  tenantId: string;
  occurredAt: string;
  sequence: number;
  subjectId: string | null;
  data: Record<string, unknown>;
  /** Set on a platform event (control database): the consumer copies it into the tenant logs it belongs to. */
  source?: "platform";
  /** A platform event's tenant's parent, whose log gets it too. */
  parentId?: string | null;
}

export interface OutboxRow {
  id: string;
  type: string;
  subject_id: string | null;
  data: string;
  created_at: string;
  sequence: number | null;
}

export const OUTBOX_COLUMNS = "id, type, subject_id, data, created_at, sequence";

export function toEventMessage(tenantId: string, row: OutboxRow): EventMessage {
  return {
    id: row.id,
    type: row.type,
    tenantId,
    occurredAt: row.created_at,
    sequence: row.sequence ?? 0,
    subjectId: row.subject_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}
