-- Single-use tokens mailed to a user (password reset, email verification). Only the SHA-256 of a token is kept
-- (it is 256 random bits, so a fast hash suffices); the token itself travels sealed in the outbox event.
CREATE TABLE user_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
);
--> statement-breakpoint
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, purpose);
--> statement-breakpoint
-- When the user proved (with a verification token) that the email address is theirs; NULL: not verified.
ALTER TABLE users ADD COLUMN email_verified_at TEXT;
--> statement-breakpoint
-- A verification is of one address: when the address changes, it is no longer verified, and tokens mailed to the
-- old address stop working. A trigger, so no write path can forget it. (A table rebuild drops it: recreate it.)
CREATE TRIGGER users_email_changed AFTER UPDATE OF email_normalized ON users
WHEN OLD.email_normalized IS NOT NEW.email_normalized
BEGIN
  UPDATE users SET email_verified_at = NULL WHERE id = NEW.id AND email_verified_at IS NOT NULL;
  UPDATE user_tokens SET used_at = NEW.updated_at
    WHERE user_id = NEW.id AND purpose = 'email_verification' AND used_at IS NULL;
END;
