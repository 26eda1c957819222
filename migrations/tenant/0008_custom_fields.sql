-- Custom fields (issue 4 §1): the tenant's definitions; values live in `users.attributes` (by name), and for
-- `pii` fields in `users.pii_attributes` (AES-GCM ciphertexts) and `users.pii_index` (blind indexes), both keyed
-- by the field's stable id so that a rename moves no ciphertext.
CREATE TABLE custom_fields (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  -- every rule of the definition (required, unique, pattern, …) as one JSON object
  rules TEXT NOT NULL,
  -- the name before the last rename, accepted on input until previous_name_until
  previous_name TEXT UNIQUE,
  previous_name_until TEXT,
  -- set while the values of a deleted field are being removed; the row goes when they are
  deleted_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
-- The schema version: bumped by every change of a definition, so validators compiled for one version are never
-- used for another.
CREATE TABLE schema_state (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL);
--> statement-breakpoint
INSERT INTO schema_state (singleton, version) VALUES (1, 0);
--> statement-breakpoint
-- Like `_batch_assertions`, for one assertion: a user write validated against schema version N ends its batch
-- with `INSERT INTO _schema_guard SELECT version = N FROM schema_state`, which fails the batch (with an error
-- that names this column) when a schema change came in between. Emptied at the end of the same batch.
CREATE TABLE _schema_guard (schema_unchanged INTEGER NOT NULL CHECK (schema_unchanged = 1));
--> statement-breakpoint
-- Work on every user's values that a schema change leaves to the background (removing a deleted field's values,
-- moving a renamed field's values, converting to a new type, writing a new default), in rowid order from
-- `after_rowid`, a bounded chunk at a time.
CREATE TABLE schema_jobs (
  id TEXT PRIMARY KEY,
  field_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('purge', 'rename', 'convert', 'backfill', 'reindex')),
  params TEXT NOT NULL DEFAULT '{}',
  after_rowid INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
--> statement-breakpoint
CREATE INDEX schema_jobs_open_idx ON schema_jobs (created_at) WHERE finished_at IS NULL;
--> statement-breakpoint
ALTER TABLE users ADD COLUMN pii_attributes TEXT;
--> statement-breakpoint
ALTER TABLE users ADD COLUMN pii_index TEXT;
--> statement-breakpoint
-- `lastLoginAt` filters ("inactive for 30 days") and sorts
CREATE INDEX users_last_login_idx ON users (last_login_at, id);
