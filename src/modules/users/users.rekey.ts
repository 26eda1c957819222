import { activeDataKey } from "../../core/crypto/data-keys";
import { jsonChunks } from "../../core/db/json-rows";
import { contactHashers, openPii, resealPiiAttributes, sealPii, type UserStore } from "./users.pii";

/** Rows re-encrypted per D1 write (one set-based UPDATE each). */
export const REKEY_BATCH_ROWS = 200;

export interface RekeyProgress {
  /** The active key version every row is being moved to. */
  version: number;
  /** Rows re-encrypted by this call. */
  reencrypted: number;
  /** Rows still under an older key version (or legacy plaintext) after this call. */
  remaining: number;
}

interface SealedRow {
  id: string;
  email_ct: string;
  phone_ct: string | null;
  pii_attributes: string | null;
}

/**
 * The rows the job has left: under an older data-key version (through `users_key_version_idx`), or written before
 * search came (tenant migration 10) and so without their keyed n-grams (through `users_grams_missing_idx`).
 */
const BEHIND = "(key_version < ?1 OR contact_grams IS NULL)";

/**
 * Re-encrypts up to `maxBatches` × REKEY_BATCH_ROWS users still under an older data-key version (or legacy
 * plaintext, version 0) with the tenant's active key, found through the `key_version` index. Blind indexes and
 * keyed n-grams are written again too (unchanged for encrypted rows, which depend on MASTER_KEY and the tenant,
 * not on the data key; legacy rows get theirs, and so do rows older than search). A re-encryption changes no user data,
 * so neither `version` (the ETag) nor `updated_at` moves; each row is written only if its ciphertexts are still
 * the ones read, so a user update that lands in between is never overwritten (that row is picked up next time).
 */
export async function reencryptUsers(store: UserStore, maxBatches: number): Promise<RekeyProgress> {
  const key = await activeDataKey(store.env, store.scope, { fresh: true });
  const hashers = await contactHashers(store);
  let reencrypted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const { results } = await store.db
      .prepare(`SELECT id, email_ct, phone_ct, pii_attributes FROM users WHERE ${BEHIND} LIMIT ?2`)
      .bind(key.version, REKEY_BATCH_ROWS)
      .all<SealedRow>();
    if (results.length === 0) break;
    const rewritten = await Promise.all(
      results.map(async (row) => {
        const opened = await openPii(store, { id: row.id, emailCt: row.email_ct, phoneCt: row.phone_ct });
        const sealed = await sealPii(store, { id: row.id, email: opened.email, phone: opened.phone }, key, hashers);
        const piiAttributes =
          row.pii_attributes === null ? null : (JSON.parse(row.pii_attributes) as Record<string, string>);
        const resealed = await resealPiiAttributes(store, row.id, piiAttributes, key);
        return [
          row.id,
          row.email_ct,
          row.phone_ct,
          sealed.emailCt,
          sealed.emailBidx,
          sealed.phoneCt,
          sealed.phoneBidx,
          sealed.keyVersion,
          sealed.contactGrams,
          row.pii_attributes,
          resealed === null ? null : JSON.stringify(resealed),
        ];
      }),
    );
    // OR IGNORE: a legacy row whose email a newer user took meanwhile cannot get its index; it stays as it is.
    const update = store.db.prepare(
      `UPDATE OR IGNORE users SET email_ct = n.email_ct, email_bidx = n.email_bidx, phone_ct = n.phone_ct,
         phone_bidx = n.phone_bidx, key_version = n.key_version, contact_grams = n.contact_grams,
         pii_attributes = n.pii_attributes
       FROM (SELECT value ->> 0 AS id, value ->> 1 AS old_email, value ->> 2 AS old_phone, value ->> 3 AS email_ct,
               value ->> 4 AS email_bidx, value ->> 5 AS phone_ct, value ->> 6 AS phone_bidx, value ->> 7 AS key_version,
               value ->> 8 AS contact_grams, value ->> 9 AS old_pii, value ->> 10 AS pii_attributes
             FROM json_each(?)) AS n
       WHERE users.id = n.id AND users.email_ct = n.old_email AND users.phone_ct IS n.old_phone
         AND users.pii_attributes IS n.old_pii
       RETURNING users.id`,
    );
    const written = await store.db.batch(jsonChunks(rewritten).map((chunk) => update.bind(chunk)));
    // rows returned, not meta.changes: D1 counts the search triggers' writes in that too
    const changes = written.reduce((sum, result) => sum + result.results.length, 0);
    reencrypted += changes;
    // a short batch was the last one; a batch that wrote nothing would only read the same rows again
    if (results.length < REKEY_BATCH_ROWS || changes === 0) break;
  }
  return { version: key.version, reencrypted, remaining: await rowsBelow(store, key.version) };
}

/** Users whose personal data is under a key version older than `version`, or who lack their keyed n-grams. */
export async function rowsBelow(store: UserStore, version: number): Promise<number> {
  const row = await store.db
    .prepare(`SELECT count(*) AS n FROM users WHERE ${BEHIND}`)
    .bind(version)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Whether any user is behind (`rowsBelow`): two index probes, for the cron's check. */
export async function anyRowBelow(store: UserStore, version: number): Promise<boolean> {
  const row = await store.db.prepare(`SELECT 1 AS found FROM users WHERE ${BEHIND} LIMIT 1`).bind(version).first();
  return row !== null;
}
