import type { ServiceContext } from "../context";
import { open, seal } from "../crypto/sealed-box";
import { newId } from "../ids";

const SECRET_PURPOSE = "uom/event-secret/v1";

export interface DomainEvent {
  /** `user.login`, `user.password_reset_requested`, … */
  type: string;
  /** The resource the event is about (a user id), for the event log's filters. */
  subjectId: string | null;
  /** Ids and non-personal facts: the row is stored in plaintext. */
  data: Record<string, unknown>;
  /** What only the recipient may read (a reset token): stored sealed under MASTER_KEY, bound to the event id. */
  secret?: Record<string, string>;
}

/**
 * Audit actions whose outbox event the code writes itself with `eventStatement` (it carries a sealed secret, or
 * non-personal facts the audit row lacks). Every other audited tenant change gets its event from the
 * `audit_events_emit` trigger (migrations/tenant/0013_event_sequence.sql), whose list this mirrors.
 */
export const EXPLICIT_EVENT_ACTIONS: readonly string[] = [
  "user.login",
  "user.login_failed",
  "user.password_reset_requested",
  "user.email_verification_requested",
  "user.password_reset",
  "user.email_verified",
  "custom_field.created",
  "custom_field.updated",
  "custom_field.deleted",
];

// the next number in the subject's sequence, taken inside the INSERT: D1 runs batches one at a time
const INSERT_EVENT = `INSERT INTO outbox_events (id, type, subject_id, data, secret_sealed, created_at, sequence)
  SELECT ?1, ?2, ?3, ?4, ?5, ?6, (SELECT coalesce(max(sequence), 0) + 1 FROM outbox_events WHERE subject_id IS ?3)`;

/**
 * The INSERT of an event into the tenant's outbox, to go in the same D1 batch as the change it announces. Only for
 * the actions in `EXPLICIT_EVENT_ACTIONS`, and for events that no audit row records (`api.deprecated_endpoint_called`,
 * a fact about a call, not a change): the audit row of any other change writes its event itself.
 * `onlyIfPreviousChanged`: inserted only when the batch's previous statement changed a row (a guard or a dedupe row).
 */
export async function eventStatement(
  ctx: Pick<ServiceContext, "env" | "db">,
  event: DomainEvent,
  at = new Date().toISOString(),
  { onlyIfPreviousChanged = false } = {},
): Promise<D1PreparedStatement> {
  const id = newId("evt");
  const sealed = event.secret ? await seal(ctx.env.MASTER_KEY, SECRET_PURPOSE, id, JSON.stringify(event.secret)) : null;
  const sql = onlyIfPreviousChanged ? `${INSERT_EVENT} WHERE changes() > 0` : INSERT_EVENT;
  return ctx.db.prepare(sql).bind(id, event.type, event.subjectId, JSON.stringify(event.data), sealed, at);
}

/** The secret part of an event, for its dispatcher (and tests). */
export async function openEventSecret(env: Env, eventId: string, sealed: string): Promise<Record<string, string>> {
  return JSON.parse(await open(env.MASTER_KEY, SECRET_PURPOSE, eventId, sealed)) as Record<string, string>;
}
