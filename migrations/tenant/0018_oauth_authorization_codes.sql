-- One-time authorization codes (RFC 6749 §4.1) of sign-ins that happen outside the token endpoint (a plugin's
-- external login: oidc-login). Only the code's SHA-256 is stored; the client exchanges it once, within minutes,
-- at POST /oauth/token (grant_type=authorization_code) with its own credentials and the PKCE verifier (RFC 7636).
CREATE TABLE oauth_authorization_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  method TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
--> statement-breakpoint
CREATE INDEX oauth_authorization_codes_expires_idx ON oauth_authorization_codes (expires_at);
