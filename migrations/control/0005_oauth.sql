-- OAuth 2: which tenant a client_id belongs to (the client itself lives in the tenant's database), and the
-- keys that sign access tokens. A private key is stored only sealed under MASTER_KEY (AES-256-GCM, bound to
-- its kid); the public JWK is what /.well-known/jwks.json serves.
CREATE TABLE oauth_client_index (
  client_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX oauth_client_index_tenant_idx ON oauth_client_index (tenant_id);
--> statement-breakpoint
-- Lifecycle: published (in the JWKS) from created_at, signs from activates_at until retires_at, leaves the
-- JWKS at expires_at (retires_at + the longest access-token lifetime, so every token it signed has expired).
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  public_jwk TEXT NOT NULL,
  private_sealed TEXT NOT NULL,
  created_at TEXT NOT NULL,
  activates_at TEXT NOT NULL,
  retires_at TEXT,
  expires_at TEXT
);
