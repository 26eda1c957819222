-- API keys moved into each tenant's own database (tenant migration 0006). The control database keeps only what
-- authentication needs before it knows the tenant: which tenant and key a secret's hash belongs to. An index row
-- whose key row is missing from the tenant database authenticates nobody.
-- The old table goes without copying: no production keys existed (local development keys stop working).
DROP TABLE api_keys;
--> statement-breakpoint
CREATE TABLE api_key_index (
  secret_hash TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX api_key_index_tenant_idx ON api_key_index (tenant_id);
