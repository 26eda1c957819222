-- Email and phone leave plaintext (docs/security.md, "Personal data at rest"): the columns are renamed rather than
-- the table rebuilt, because dropping `users` would cascade-delete the rows of every table that references it.
-- `email_normalized` becomes `email_bidx` and keeps its UNIQUE constraint (now over a keyed blind index), and
-- the trigger that watches it (`users_email_changed`, 0004) with it: a blind index is deterministic, so it
-- changes exactly when the normalised email does.
-- Rows written before this migration hold plaintext: key version 0, ciphertext columns tagged `v0.` (read
-- as-is by the application), `email_bidx` still the normalised email, until the data-key rotation job (cron,
-- POST /v1/tenants/{id}/data-keys/rotate) encrypts and re-indexes them. `email_bidx` is left alone here so that
-- this migration does not fire that trigger.
ALTER TABLE users RENAME COLUMN email TO email_ct;
--> statement-breakpoint
ALTER TABLE users RENAME COLUMN email_normalized TO email_bidx;
--> statement-breakpoint
ALTER TABLE users RENAME COLUMN phone TO phone_ct;
--> statement-breakpoint
ALTER TABLE users ADD COLUMN phone_bidx TEXT;
--> statement-breakpoint
-- The data-key version of the row's ciphertexts (also named in each ciphertext): finds the rows a rotation has
-- left to re-encrypt through an index, without reading every row.
ALTER TABLE users ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;
--> statement-breakpoint
UPDATE users SET
  email_ct = 'v0.' || email_ct,
  phone_ct = CASE WHEN phone_ct IS NULL THEN NULL ELSE 'v0.' || phone_ct END,
  phone_bidx = CASE WHEN phone_ct IS NULL THEN NULL ELSE 'v0.' || phone_ct END;
--> statement-breakpoint
CREATE INDEX users_phone_bidx_idx ON users (phone_bidx) WHERE phone_bidx IS NOT NULL;
--> statement-breakpoint
CREATE INDEX users_key_version_idx ON users (key_version);
