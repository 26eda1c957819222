-- The tenant's API keys live in its own database, beside its audit trail, so that its key events (created,
-- rotated, revoked) are written in the same batch as the change and the tenant sees them. The control database
-- keeps only api_key_index (secret hash → tenant), which authentication needs to find the tenant.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  roles TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  last_used_at TEXT,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);
--> statement-breakpoint
-- Every secret a key has had: SHA-256 hashes only. The current one has no `retires_at`; a rotated-out one stops
-- working at `retires_at` (the end of its grace period) and stays recorded, so it can never work again.
CREATE TABLE api_key_secrets (
  secret_hash TEXT PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  tail TEXT NOT NULL,
  created_at TEXT NOT NULL,
  retires_at TEXT
);
--> statement-breakpoint
CREATE INDEX api_key_secrets_key_idx ON api_key_secrets (key_id, created_at);
