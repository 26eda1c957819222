-- TOTP (RFC 6238) second factor: one enrolment per user, its secret sealed (AES-GCM under a MASTER_KEY-derived
-- key); `last_step` is the last time step a code was accepted for, so each code is accepted once.
CREATE TABLE user_totp (
  user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_sealed TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active')),
  last_step INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  activated_at TEXT
);
--> statement-breakpoint
-- Single-use recovery codes, stored as SHA-256 hashes (they are random, 80 bits, so a fast hash suffices).
CREATE TABLE user_recovery_codes (
  code_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  used_at TEXT
);
--> statement-breakpoint
CREATE INDEX user_recovery_codes_user_idx ON user_recovery_codes (user_id);
