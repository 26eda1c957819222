-- The platform outbox: the events of changes audited in the control database's trail (tenants, plans, a tenant's
-- first API key), which no tenant database sees. As in the tenant databases (tenant 0013), an AFTER INSERT trigger
-- on `audit_events` writes the row in the same statement as the audit row, so in the same D1 batch as the change: a
-- change that fails, or a guarded audit insert that writes nothing, emits nothing. The event id is the audit id's
-- ULID under `evt_`. The EVENTS consumer copies each row into the log (`outbox_events`) of the tenant it concerns
-- and of that tenant's parent (docs/events.md, "Platform events").
--
-- `tenant_id`: the tenant the event concerns (no foreign key: `tenant.deleted` outlives its tenant); `parent_id`:
-- that tenant's parent when the event happened (read from the row, or for `tenant.deleted`, whose row is gone by
-- then, from the audit row's `parentId`). `data` holds ids, types, field NAMES and plan names, never a value of a
-- tenant's fields (its name): the table is plaintext. `sequence` numbers one subject's platform events.
-- `sent_at` / `send_count`: the last hand-over to the EVENTS queue and how many there were; `dispatched_at`: when
-- the consumer copied it into the tenant logs; `dead_at`: given up (re-send cap reached, or the dead-letter queue).
CREATE TABLE platform_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  parent_id TEXT,
  type TEXT NOT NULL,
  subject_id TEXT,
  data TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  send_count INTEGER NOT NULL DEFAULT 0,
  dispatched_at TEXT,
  dead_at TEXT
);
--> statement-breakpoint
CREATE INDEX platform_events_pending_idx ON platform_events (created_at, id)
  WHERE dispatched_at IS NULL AND dead_at IS NULL;
--> statement-breakpoint
CREATE INDEX platform_events_subject_seq_idx ON platform_events (subject_id, sequence);
--> statement-breakpoint
CREATE INDEX platform_events_created_idx ON platform_events (created_at, id);
--> statement-breakpoint
-- The tenant an audited action concerns: the tenant itself, a plan change request's tenant, or (the first API key)
-- the tenant named in the audit row. An admin's change of plan (`tenant.updated` with `plan` among its changes)
-- also emits `plan.changed`, whose id is the tenant.updated event's with `_plan` appended.
CREATE TRIGGER audit_events_platform_emit AFTER INSERT ON audit_events
WHEN NEW.action IN (
  'tenant.created', 'tenant.updated', 'tenant.deleted', 'tenant.data_key_rotated',
  'plan.change_requested', 'plan.change_request_cancelled', 'api_key.created'
)
BEGIN
  INSERT INTO platform_events (id, tenant_id, parent_id, type, subject_id, data, sequence, created_at)
  SELECT
    'evt_' || substr(NEW.id, instr(NEW.id, '_') + 1),
    concerned.tenant_id,
    coalesce(
      (SELECT parent_id FROM tenants WHERE id = concerned.tenant_id),
      json_extract(NEW.changes, '$.parentId.from')
    ),
    NEW.action,
    NEW.resource_id,
    json_patch(
      json_object(
        'resource', json_object('type', NEW.resource_type, 'id', NEW.resource_id),
        'actor', json_object('type', NEW.actor_type, 'id', NEW.actor_id),
        'fields', json((SELECT json_group_array(key) FROM json_each(NEW.changes))),
        'requestId', NEW.request_id,
        'tenantId', concerned.tenant_id
      ),
      CASE WHEN NEW.action = 'plan.change_requested'
        THEN json_object('plan', json(json_extract(NEW.changes, '$.plan'))) ELSE '{}' END
    ),
    (SELECT coalesce(max(sequence), 0) + 1 FROM platform_events WHERE subject_id IS NEW.resource_id),
    NEW.created_at
  FROM (
    SELECT CASE NEW.resource_type
      WHEN 'tenant' THEN NEW.resource_id
      WHEN 'plan_change_request' THEN (SELECT tenant_id FROM plan_change_requests WHERE id = NEW.resource_id)
      ELSE json_extract(NEW.changes, '$.tenantId.to')
    END AS tenant_id
  ) AS concerned
  WHERE concerned.tenant_id IS NOT NULL;

  INSERT INTO platform_events (id, tenant_id, parent_id, type, subject_id, data, sequence, created_at)
  SELECT
    'evt_' || substr(NEW.id, instr(NEW.id, '_') + 1) || '_plan',
    NEW.resource_id,
    (SELECT parent_id FROM tenants WHERE id = NEW.resource_id),
    'plan.changed',
    NEW.resource_id,
    json_object(
      'resource', json_object('type', NEW.resource_type, 'id', NEW.resource_id),
      'actor', json_object('type', NEW.actor_type, 'id', NEW.actor_id),
      'fields', json_array('plan'),
      'requestId', NEW.request_id,
      'tenantId', NEW.resource_id,
      'plan', json(json_extract(NEW.changes, '$.plan'))
    ),
    (SELECT coalesce(max(sequence), 0) + 1 FROM platform_events WHERE subject_id IS NEW.resource_id),
    NEW.created_at
  WHERE NEW.action = 'tenant.updated' AND json_extract(NEW.changes, '$.plan') IS NOT NULL;
END;
