-- A tenant's own database: its users.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_normalized TEXT NOT NULL UNIQUE,
  username TEXT,
  username_normalized TEXT UNIQUE,
  name TEXT,
  phone TEXT,
  status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
  -- the status a soft-deleted user returns to on restore
  restore_status TEXT CHECK (restore_status IN ('active', 'disabled')),
  attributes TEXT NOT NULL DEFAULT '{}',
  roles TEXT NOT NULL DEFAULT '[]',
  password_hash TEXT,
  mfa_totp INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  last_login_at TEXT,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
CREATE INDEX users_created_idx ON users (created_at, id);
--> statement-breakpoint
CREATE INDEX users_updated_idx ON users (updated_at, id);
--> statement-breakpoint
-- Assertions inside a D1 batch: `INSERT INTO _batch_assertions (ok) SELECT changes() > 0` fails the CHECK,
-- and so rolls back the whole batch, when the guarded statement before it matched no row. Emptied at the
-- end of the batch that used it.
CREATE TABLE _batch_assertions (ok INTEGER NOT NULL CHECK (ok = 1));
