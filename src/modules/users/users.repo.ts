import { and, asc, desc, eq, gt, inArray, lt, ne, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { toStatement } from "../../core/db/statements";
import { type UserRow, users } from "../../core/db/tenant-schema";
import type { UserSort } from "./users.schema";

export type NewUserRow = typeof users.$inferInsert;
export type UserChanges = Partial<Omit<NewUserRow, "id" | "createdAt" | "version">>;

/** D1 binds at most 100 parameters per statement. */
const IN_CHUNK = 90;

export async function findUser(db: D1Database, id: string): Promise<UserRow | undefined> {
  return drizzle(db).select().from(users).where(eq(users.id, id)).get();
}

export async function findUsers(db: D1Database, ids: readonly string[]): Promise<Map<string, UserRow>> {
  const found = new Map<string, UserRow>();
  const orm = drizzle(db);
  const chunks = chunk([...new Set(ids)]);
  if (chunks.length === 0) return found;
  const results = await orm.batch(
    chunks.map((part) => orm.select().from(users).where(inArray(users.id, part))) as [never, ...never[]],
  );
  for (const rows of results as UserRow[][]) for (const row of rows) found.set(row.id, row);
  return found;
}

/** Which of these normalized emails / usernames already belong to a user (and to whom). */
export async function findTaken(
  db: D1Database,
  column: "emailNormalized" | "usernameNormalized",
  values: readonly string[],
): Promise<Map<string, string>> {
  const taken = new Map<string, string>();
  const chunks = chunk([...new Set(values)]);
  if (chunks.length === 0) return taken;
  const orm = drizzle(db);
  const results = await orm.batch(
    chunks.map((part) =>
      orm.select({ id: users.id, value: users[column] }).from(users).where(inArray(users[column], part)),
    ) as [never, ...never[]],
  );
  for (const rows of results as { id: string; value: string | null }[][]) {
    for (const row of rows) if (row.value !== null) taken.set(row.value, row.id);
  }
  return taken;
}

export interface ListPosition {
  value: string;
  id: string;
}

export async function listUsers(
  db: D1Database,
  options: { sort: UserSort; after: ListPosition | null; includeDeleted: boolean; limit: number },
): Promise<UserRow[]> {
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
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(order(column), order(users.id))
    .limit(options.limit);
}

export function insertUser(db: D1Database, row: NewUserRow, options: { skipOnConflict?: boolean } = {}) {
  const insert = drizzle(db).insert(users).values(row);
  return toStatement(db, options.skipOnConflict ? insert.onConflictDoNothing() : insert);
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

function chunk<T>(values: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += IN_CHUNK) out.push(values.slice(i, i + IN_CHUNK));
  return out;
}
