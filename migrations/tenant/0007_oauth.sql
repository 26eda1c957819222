-- OAuth 2 clients of this tenant (the secret only as its SHA-256) and end users' refresh tokens (only as
-- SHA-256). A family is one login: every rotation adds a row to it; reusing a used token revokes the family.
CREATE TABLE oauth_clients (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  grant_types TEXT NOT NULL,
  roles TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);
--> statement-breakpoint
CREATE INDEX oauth_clients_created_idx ON oauth_clients (created_at, id);
--> statement-breakpoint
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  revoked_at TEXT
);
--> statement-breakpoint
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
--> statement-breakpoint
CREATE INDEX refresh_tokens_client_idx ON refresh_tokens (client_id) WHERE revoked_at IS NULL;
