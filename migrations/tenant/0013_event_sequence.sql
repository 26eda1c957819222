-- Every audited change announces itself: an AFTER INSERT trigger on `audit_events` writes the outbox row in the same
-- statement, so in the same D1 batch as the change (a change that fails, or a guarded audit insert that writes
-- nothing, emits nothing). Bulk inserts (json_each) fire it once per row. The event id is the audit id's ULID under
-- `evt_`, which ties the two rows together. `data` holds ids, types and the NAMES of the changed fields, never values:
-- the outbox is plaintext (docs/events.md). Actions whose code writes its own event (carrying a sealed secret or
-- non-personal facts the audit row lacks: login method, failure reason, token expiry, schema version) are left out
-- here; `EXPLICIT_EVENT_ACTIONS` in src/core/events/outbox.ts mirrors this list.
--
-- `sequence` orders the events of one resource (subject): computed inside the INSERT, so concurrent batches, which
-- D1 runs one after the other, never take the same number. `sent_at`: when it was last handed to the EVENTS queue;
-- `dispatched_at`: when the consumer acknowledged it.
ALTER TABLE outbox_events ADD COLUMN sequence INTEGER;
--> statement-breakpoint
ALTER TABLE outbox_events ADD COLUMN sent_at TEXT;
--> statement-breakpoint
UPDATE outbox_events SET sequence = (
  SELECT count(*) FROM outbox_events o
  WHERE o.subject_id IS outbox_events.subject_id
    AND (o.created_at < outbox_events.created_at OR (o.created_at = outbox_events.created_at AND o.id <= outbox_events.id))
);
--> statement-breakpoint
CREATE INDEX outbox_events_subject_seq_idx ON outbox_events (subject_id, sequence);
--> statement-breakpoint
CREATE INDEX outbox_events_created_idx ON outbox_events (created_at, id);
--> statement-breakpoint
CREATE TRIGGER audit_events_emit AFTER INSERT ON audit_events
WHEN NEW.action NOT IN (
  'user.login', 'user.login_failed', 'user.password_reset_requested', 'user.email_verification_requested',
  'user.password_reset', 'user.email_verified'
) AND NEW.action NOT LIKE 'custom\_field.%' ESCAPE '\'
BEGIN
  INSERT INTO outbox_events (id, type, subject_id, data, secret_sealed, created_at, sequence)
  VALUES (
    'evt_' || substr(NEW.id, instr(NEW.id, '_') + 1),
    NEW.action,
    NEW.resource_id,
    json_object(
      'resource', json_object('type', NEW.resource_type, 'id', NEW.resource_id),
      'actor', json_object('type', NEW.actor_type, 'id', NEW.actor_id),
      'fields', json((SELECT json_group_array(key) FROM json_each(NEW.changes))),
      'requestId', NEW.request_id
    ),
    NULL,
    NEW.created_at,
    (SELECT coalesce(max(sequence), 0) + 1 FROM outbox_events WHERE subject_id IS NEW.resource_id)
  );
END;
