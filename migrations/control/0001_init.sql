-- Control plane: tenants, the tenant database pool, API-key hashes, platform audit, idempotency.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  plan TEXT NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
  parent_id TEXT REFERENCES tenants (id),
  database_binding TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
CREATE INDEX tenants_parent_idx ON tenants (parent_id);
--> statement-breakpoint
CREATE INDEX tenants_created_idx ON tenants (created_at, id);
--> statement-breakpoint
-- One row per TENANT_DB_<n> binding. A freed database rests ("released_at") before it is reused, longer
-- than any isolate caches a credential, so a stale cached key can never reach the next tenant's data.
CREATE TABLE tenant_databases (
  binding TEXT PRIMARY KEY,
  tenant_id TEXT UNIQUE,
  claimed_at TEXT,
  released_at TEXT
);
--> statement-breakpoint
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  tail TEXT NOT NULL,
  roles TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  last_used_at TEXT
);
--> statement-breakpoint
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at);
