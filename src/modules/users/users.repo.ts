import { and, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { activeDataKey } from "../../core/crypto/data-keys";
import { fromDriverRow } from "../../core/db/driver-rows";
import { jsonChunks } from "../../core/db/json-rows";
import { toStatement } from "../../core/db/statements";
import { type StoredUserRow, type UserRow, users } from "../../core/db/tenant-schema";
import { batchWithSchema } from "../schema/schema.service";
import {
  emailIndexes,
  openUserRow,
  openUserRows,
  type SealedUserRow,
  sealAttributes,
  sealPii,
  sealUserRows,
  type UserStore,
} from "./users.pii";

/** Changes to a user; `email` and `phone` are sealed together (one key version per row), so give both or neither. */
export type UserChanges = Partial<Omit<UserRow, "id" | "createdAt" | "version">>;

/** The user with this id, its personal data opened. */
export async function findUser(store: UserStore, id: string): Promise<UserRow | undefined> {
  // one round trip for the row and, unless this request has it, the tenant's schema (to present attributes)
  const [result] = await batchWithSchema(store, [store.db.prepare("SELECT * FROM users WHERE id = ?").bind(id)]);
  const raw = result?.results[0] as Record<string, unknown> | undefined;
  return raw ? openUserRow(store, fromDriverRow(users, raw)) : undefined;
}

function inJson(values: readonly string[]) {
  return sql`(SELECT value FROM json_each(${JSON.stringify([...new Set(values)])}))`;
}

export interface Prefetched {
  /** The users named by id. */
  users: Map<string, UserRow>;
  /** Normalized email → the id of the user who has it. */
  emails: Map<string, string>;
  /** Normalized username → the id of the user who has it. */
  usernames: Map<string, string>;
}

/**
 * One round trip: the users a bulk request names, and which of its emails (normalised) and usernames are taken;
 * emails are looked up by their blind indexes.
 */
export async function prefetch(
  store: UserStore,
  ids: readonly string[],
  emails: readonly string[],
  usernames: readonly string[],
): Promise<Prefetched> {
  const orm = drizzle(store.db);
  const emailOf = await emailIndexes(store, emails);
  const [rows, takenEmails, takenUsernames] = await orm.batch([
    orm
      .select()
      .from(users)
      .where(inArray(users.id, inJson(ids))),
    orm
      .select({ id: users.id, value: users.emailBidx })
      .from(users)
      .where(inArray(users.emailBidx, inJson([...emailOf.keys()]))),
    orm
      .select({ id: users.id, value: users.usernameNormalized })
      .from(users)
      .where(inArray(users.usernameNormalized, inJson(usernames))),
  ]);
  const owners = (found: { id: string; value: string | null }[]) =>
    new Map(found.flatMap((row) => (row.value === null ? [] : [[row.value, row.id] as const])));
  const opened = await openUserRows(store, rows);
  return {
    users: new Map(opened.map((row) => [row.id, row])),
    emails: owners(takenEmails.map((row) => ({ id: row.id, value: emailOf.get(row.value) ?? null }))),
    usernames: owners(takenUsernames),
  };
}

const USER_COLUMNS = [
  "id",
  "email_ct",
  "email_bidx",
  "username",
  "username_normalized",
  "name",
  "phone_ct",
  "status",
  "restore_status",
  "attributes",
  "roles",
  "password_hash",
  "mfa_totp",
  "created_at",
  "updated_at",
  "deleted_at",
  "last_login_at",
  "version",
  "phone_bidx",
  "key_version",
  "pii_attributes",
  "pii_index",
  "external_id",
  "contact_grams",
  "pii_grams",
] as const;

function columnValues(row: SealedUserRow): unknown[] {
  return [
    row.id,
    row.emailCt,
    row.emailBidx,
    row.username,
    row.usernameNormalized,
    row.name,
    row.phoneCt,
    row.status,
    row.restoreStatus,
    JSON.stringify(row.attributes),
    JSON.stringify(row.roles),
    row.passwordHash,
    row.mfaTotp ? 1 : 0,
    row.createdAt,
    row.updatedAt,
    row.deletedAt,
    row.lastLoginAt,
    row.version,
    row.phoneBidx,
    row.keyVersion,
    row.piiAttributes === null ? null : JSON.stringify(row.piiAttributes),
    row.piiIndex === null ? null : JSON.stringify(row.piiIndex),
    row.externalId,
    row.contactGrams,
    row.piiGrams,
  ];
}

/**
 * Inserts new users set-based (json_each), returning the ids inserted; single creates use it too, so one column
 * mapping serves both. With `skipOnConflict`, a row whose email or username is taken is skipped (and its id is missing from the result) instead of failing all.
 */
export async function insertUsersMany(
  store: UserStore,
  rows: readonly UserRow[],
  options: { skipOnConflict: boolean },
): Promise<D1PreparedStatement[]> {
  const sealed = await sealUserRows(store, rows);
  const select = USER_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ");
  const sqlText = `INSERT INTO users (${USER_COLUMNS.join(", ")}) SELECT ${select} FROM json_each(?) WHERE true
    ${options.skipOnConflict ? "ON CONFLICT DO NOTHING" : ""} RETURNING id`;
  return jsonChunks(sealed.map(columnValues)).map((chunk) => store.db.prepare(sqlText).bind(chunk));
}

/**
 * Updates only if the row is still at `version` (optimistic concurrency); bumps the version. Email and phone
 * are sealed afresh under the active data key, so a write also moves the row off an older key version.
 */
export async function updateUser(
  store: UserStore,
  id: string,
  version: number,
  changes: UserChanges,
): Promise<D1PreparedStatement> {
  const { email, emailNormalized, phone, attributes, ...plain } = changes;
  let sealed: Partial<StoredUserRow> = {};
  if (email !== undefined || phone !== undefined || attributes !== undefined) {
    const key = await activeDataKey(store.env, store.scope);
    if (email !== undefined || phone !== undefined) {
      if (email === undefined || phone === undefined)
        throw new Error("updateUser: email and phone are sealed together");
      sealed = await sealPii(store, { id, email, phone }, key);
    }
    // `pii` custom fields go to their sealed columns
    if (attributes !== undefined) sealed = { ...sealed, ...(await sealAttributes(store, id, attributes, key)) };
  }
  return toStatement(
    store.db,
    drizzle(store.db)
      .update(users)
      .set({ ...plain, ...sealed, version: version + 1 })
      .where(and(eq(users.id, id), eq(users.version, version))),
  );
}

export function deleteUserRow(db: D1Database, id: string, version: number) {
  return toStatement(
    db,
    drizzle(db)
      .delete(users)
      .where(and(eq(users.id, id), eq(users.version, version))),
  );
}
