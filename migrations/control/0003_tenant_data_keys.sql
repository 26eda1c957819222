-- Per-tenant data keys (personal data at rest, docs/security.md): 32 random bytes per version, stored only wrapped
-- (AES-256-GCM under a key derived from MASTER_KEY for the tenant, bound to tenant and version). The highest
-- version is the active one; an older one is kept for decryption until no row uses it, then gets `retired_at`.
CREATE TABLE tenant_data_keys (
  tenant_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  wrapped_key TEXT NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT,
  PRIMARY KEY (tenant_id, version)
);
