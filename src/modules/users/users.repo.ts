import { and, asc, desc, eq, gt, inArray, lt, ne, or, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jsonChunks } from "../../core/db/json-rows";
import { toStatement } from "../../core/db/statements";
import { type UserRow, users } from "../../core/db/tenant-schema";
import type { UserSort } from "./users.schema";

export type UserChanges = Partial<Omit<typeof users.$inferInsert, "id" | "createdAt" | "version">>;

export async function findUser(db: D1Database, id: string): Promise<UserRow | undefined> {
  return drizzle(db).select().from(users).where(eq(users.id, id)).get();
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

/** One round trip: the users a bulk request names, and which of its emails and usernames are taken. */
export async function prefetch(
  db: D1Database,
  ids: readonly string[],
  emails: readonly string[],
  usernames: readonly string[],
): Promise<Prefetched> {
  const orm = drizzle(db);
  const [rows, takenEmails, takenUsernames] = await orm.batch([
    orm
      .select()
      .from(users)
      .where(inArray(users.id, inJson(ids))),
    orm
      .select({ id: users.id, value: users.emailNormalized })
      .from(users)
      .where(inArray(users.emailNormalized, inJson(emails))),
    orm
      .select({ id: users.id, value: users.usernameNormalized })
      .from(users)
      .where(inArray(users.usernameNormalized, inJson(usernames))),
  ]);
  const owners = (found: { id: string; value: string | null }[]) =>
    new Map(found.flatMap((row) => (row.value === null ? [] : [[row.value, row.id] as const])));
  return {
    users: new Map(rows.map((row) => [row.id, row])),
    emails: owners(takenEmails),
    usernames: owners(takenUsernames),
  };
}

const USER_COLUMNS = [
  "id",
  "email",
  "email_normalized",
  "username",
  "username_normalized",
  "name",
  "phone",
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
] as const;

function columnValues(row: UserRow): unknown[] {
  return [
    row.id,
    row.email,
    row.emailNormalized,
    row.username,
    row.usernameNormalized,
    row.name,
    row.phone,
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
  ];
}

/**
 * Inserts new users set-based (json_each), returning the ids inserted; single creates use it too, so one column
 * mapping serves both. With `skipOnConflict`, a row whose email or username is taken is skipped (and its id is missing from the result) instead of failing all.
 */
export function insertUsersMany(db: D1Database, rows: readonly UserRow[], options: { skipOnConflict: boolean }) {
  const select = USER_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ");
  const sqlText = `INSERT INTO users (${USER_COLUMNS.join(", ")}) SELECT ${select} FROM json_each(?) WHERE true
    ${options.skipOnConflict ? "ON CONFLICT DO NOTHING" : ""} RETURNING id`;
  return jsonChunks(rows.map(columnValues)).map((chunk) => db.prepare(sqlText).bind(chunk));
}

export interface ListPosition {
  value: string;
  id: string;
}

/** The columns a user's representation needs (lists leave out hashes and bookkeeping). */
const VIEW_COLUMNS = {
  id: users.id,
  email: users.email,
  username: users.username,
  name: users.name,
  phone: users.phone,
  status: users.status,
  attributes: users.attributes,
  roles: users.roles,
  mfaTotp: users.mfaTotp,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
  deletedAt: users.deletedAt,
  lastLoginAt: users.lastLoginAt,
};
export type UserView = Pick<UserRow, keyof typeof VIEW_COLUMNS>;

export async function listUsers(
  db: D1Database,
  options: { sort: UserSort; after: ListPosition | null; includeDeleted: boolean; limit: number },
): Promise<UserView[]> {
  const descending = options.sort.startsWith("-");
  const column = options.sort.endsWith("updatedAt") ? users.updatedAt : users.createdAt;
  const conditions: (SQL | undefined)[] = [];
  if (!options.includeDeleted) conditions.push(ne(users.status, "deleted"));
  if (options.after) {
    const { value, id } = options.after;
    const beyond = descending ? lt : gt;
    conditions.push(or(beyond(column, value), and(eq(column, value), beyond(users.id, id))));
  }
  const order = descending ? desc : asc;
  return drizzle(db)
    .select(VIEW_COLUMNS)
    .from(users)
    .where(and(...conditions))
    .orderBy(order(column), order(users.id))
    .limit(options.limit);
}

/** Updates only if the row is still at `version` (optimistic concurrency); bumps the version. */
export function updateUser(db: D1Database, id: string, version: number, changes: UserChanges) {
  return toStatement(
    db,
    drizzle(db)
      .update(users)
      .set({ ...changes, version: version + 1 })
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
