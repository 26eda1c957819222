import { and, asc, desc, ne, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { fromDriverRow } from "../../core/db/driver-rows";
import { toStatement } from "../../core/db/statements";
import { type UserRow, users } from "../../core/db/tenant-schema";
import { batchWithSchema } from "../schema/schema.service";
import type { CompiledFilter } from "../search/filter.compiler";
import { allHits, type CompiledSearch, restTier, textTier } from "../search/fulltext.query";
import { openUserRows, type SealedUserRow, type UserStore } from "./users.pii";
import type { UserSort } from "./users.schema";

/**
 * Pages of users for GET /v1/users: keyset pagination by time, by a sort key (custom field, last login) or by
 * relevance (a search), with filters, and the count in the same round trip.
 */

export interface ListPosition {
  /** The sort key of the last row seen: a time, or a custom field's value (maybe none). */
  value: string | number | boolean | null;
  id: string;
}

/**
 * Where a list sorted by relevance stopped (fulltext.query.ts, CompiledSearch): the last user's tier, score and
 * rowid, and whether the text tier was scored on the first page (later pages keep that order).
 */
export interface RankPosition {
  tier: 0 | 1;
  score: number;
  rid: number;
  ranked: boolean;
}

/** A sort on an expression other than the two timestamps: a custom field, or `last_login_at` (values may be NULL). */
export interface SortKey {
  /** Trusted SQL (from the schema module or this module), with its collation when it has one. */
  expression: string;
  descending: boolean;
}

/** The columns a user's representation needs (lists leave out hashes and bookkeeping). */
const VIEW_COLUMNS = {
  id: users.id,
  emailCt: users.emailCt,
  username: users.username,
  name: users.name,
  phoneCt: users.phoneCt,
  status: users.status,
  attributes: users.attributes,
  roles: users.roles,
  mfaTotp: users.mfaTotp,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
  deletedAt: users.deletedAt,
  lastLoginAt: users.lastLoginAt,
  lastActiveAt: users.lastActiveAt,
  loginCount: users.loginCount,
  emailVerifiedAt: users.emailVerifiedAt,
  piiAttributes: users.piiAttributes,
  externalId: users.externalId,
};
/** A user's representation, its personal data opened. */
export type UserView = Pick<
  UserRow,
  Exclude<keyof typeof VIEW_COLUMNS, "emailCt" | "phoneCt" | "piiAttributes"> | "email" | "phone"
>;
/**
 * A listed user; its place in a relevance order (`tier`, `score`, `rid`, `ranked`) when the list is sorted by
 * relevance, `sortValue` (the sort expression's value) when by a `SortKey`.
 */
export type ListedUser = UserView & {
  tier?: number;
  score?: number;
  rid?: number;
  ranked?: number | null;
  sortValue?: string | number | boolean | null;
};

export interface ListOptions {
  sort: UserSort;
  after: ListPosition | null;
  /** Where the previous page stopped, when sorted by relevance. */
  rankAfter?: RankPosition | null | undefined;
  includeDeleted: boolean;
  limit: number;
  /** A compiled filter (users.filter.ts) whose columns are named `users.<column>`. */
  filter?: CompiledFilter | undefined;
  /** Sorts by this expression instead of `sort` (which then only says the direction it came from). */
  sortKey?: SortKey | undefined;
  /** A compiled full-text search (users.search.ts); required by `sort: "relevance"`. */
  search?: CompiledSearch | undefined;
  /** Also count every user the list matches (ignoring the cursor), in the same round trip. */
  count?: boolean;
}

/** A compiled fragment as drizzle SQL: its `?` placeholders (the compiler writes no other `?`) take `params`. */
function fromCompiled({ sql: text, params }: { sql: string; params: readonly unknown[] }): SQL {
  const parts = text.split("?");
  if (parts.length !== params.length + 1) throw new Error("compiled filter: placeholders and parameters disagree");
  return sql.join(parts.flatMap((part, i) => (i === 0 ? [sql.raw(part)] : [sql.param(params[i - 1]), sql.raw(part)])));
}

/**
 * One page of users (and with `count`, their number, in the same batch: one D1 round trip either way). With a
 * search, the users it finds are those of its hits query (FTS5 lookups by rowid); sorted by relevance, the page is
 * `rankedPage`.
 */
export async function listUsers(
  store: UserStore,
  options: ListOptions,
): Promise<{ rows: ListedUser[]; total: number | null }> {
  const statements = [toStatement(store.db, pageQuery(store, options))];
  if (options.count) {
    const count = drizzle(store.db)
      .select({ total: sql<number>`count(*)`.as("total") })
      .from(users)
      .where(and(...matchingConditions(options), searched(options)));
    statements.push(toStatement(store.db, count));
  }
  // opening the rows needs the tenant's schema: it comes in the same round trip as the page
  const [page, counted] = await batchWithSchema(store, statements);
  const rows = (page?.results ?? []).map((raw) => listedRow(raw as Record<string, unknown>));
  const total = counted ? ((counted.results[0] as { total: number } | undefined)?.total ?? 0) : null;
  return { rows: await openUserRows(store, rows), total };
}

/** A page row as D1 returns it (column names, as `batchWithSchema` gives them) mapped as drizzle would. */
function listedRow(raw: Record<string, unknown>): SealedUserRow & Omit<ListedUser, keyof UserView> {
  const { tier, score, rid, ranked, sort_value } = raw as Record<string, number | string | null | undefined>;
  return {
    ...fromDriverRow(users, raw),
    ...(tier === undefined
      ? {}
      : { tier: Number(tier), score: Number(score), rid: Number(rid), ranked: ranked as number | null }),
    ...(sort_value === undefined ? {} : { sortValue: sort_value }),
  };
}

/** What every listed user must satisfy, search apart: live (unless includeDeleted), and the filter. */
function matchingConditions(options: ListOptions): SQL[] {
  const matching: SQL[] = [];
  if (!options.includeDeleted) matching.push(ne(users.status, "deleted"));
  if (options.filter) matching.push(fromCompiled(options.filter));
  return matching;
}

/** The search as a condition: the user's rowid among the hits (each FTS5 lookup runs once, materialised). */
function searched(options: ListOptions): SQL | undefined {
  return options.search && sql`${users}.rowid IN (SELECT rid FROM (${fromCompiled(allHits(options.search))}))`;
}

/** The query of one page (exported for the query-plan checks in test/search). */
export function pageQuery(store: UserStore, options: ListOptions) {
  const matching = matchingConditions(options);
  if (options.sort === "relevance") return rankedPage(store, options, matching);
  const found = searched(options);
  const conditions = found ? [...matching, found] : matching;
  return options.sortKey
    ? keyedPage(store, options, options.sortKey, conditions)
    : sortedPage(store, options, conditions);
}

/**
 * Keyset pagination on (expression, id), for a sort key whose values may be missing. SQLite puts NULLs first
 * ascending and last descending, so "after the cursor" includes or excludes the users without a value to match.
 */
function keyedPage(store: UserStore, options: ListOptions, key: SortKey, matching: readonly SQL[]) {
  const expression = sql.raw(key.expression);
  const conditions: SQL[] = [...matching];
  if (options.after) {
    const { value, id } = options.after;
    const beyondId = key.descending ? sql`${users.id} < ${id}` : sql`${users.id} > ${id}`;
    if (value === null) {
      conditions.push(
        key.descending
          ? sql`(${expression} IS NULL AND ${beyondId})`
          : sql`((${expression} IS NULL AND ${beyondId}) OR ${expression} IS NOT NULL)`,
      );
    } else {
      const bound = typeof value === "boolean" ? Number(value) : value;
      const beyond = key.descending ? sql`${expression} < ${bound}` : sql`${expression} > ${bound}`;
      const nulls = key.descending ? sql` OR ${expression} IS NULL` : sql``;
      conditions.push(sql`(${beyond} OR (${expression} = ${bound} AND ${beyondId})${nulls})`);
    }
  }
  const order = key.descending ? sql`DESC` : sql`ASC`;
  return drizzle(store.db)
    .select({ ...VIEW_COLUMNS, sortValue: sql<string | number | null>`${expression}`.as("sort_value") })
    .from(users)
    .where(and(...conditions))
    .orderBy(sql`${expression} ${order}`, sql`${users.id} ${order}`)
    .limit(options.limit);
}

/** Keyset pagination on (time, id), through `users_created_idx` / `users_updated_idx`. */
function sortedPage(store: UserStore, options: ListOptions, matching: readonly SQL[]) {
  const descending = options.sort.startsWith("-");
  const column = options.sort.endsWith("updatedAt") ? users.updatedAt : users.createdAt;
  const conditions: (SQL | undefined)[] = [...matching];
  if (options.after) {
    const { id } = options.after;
    const value = String(options.after.value);
    // a row value, so SQLite seeks the (time, id) index to the cursor: the equivalent OR of two comparisons
    // makes it scan the index from the first user on every page
    conditions.push(
      descending
        ? sql`(${column}, ${users.id}) < (${value}, ${id})`
        : sql`(${column}, ${users.id}) > (${value}, ${id})`,
    );
  }
  const order = descending ? desc : asc;
  return drizzle(store.db)
    .select(VIEW_COLUMNS)
    .from(users)
    .where(and(...conditions))
    .orderBy(order(column), order(users.id))
    .limit(options.limit);
}

/**
 * A page in relevance order: the text tier by score (then newest first), then the rest newest first
 * (fulltext.query.ts, CompiledSearch). Each tier is cut to one page before the two are joined, and the union
 * stops at the page's size, so a page the text tier fills never evaluates the rest; only the page's rows are
 * read in full.
 */
function rankedPage(store: UserStore, options: ListOptions, matching: readonly SQL[]) {
  const search = options.search;
  if (!search) throw new Error("a relevance sort needs a search");
  const after = options.rankAfter ?? null;
  const limit = options.limit;
  const arms: SQL[] = [];
  const text = after === null || after.tier === 0 ? textTier(search, after?.ranked) : null;
  if (text?.scored) {
    const beyond =
      after && sql`(hits.score > ${after.score} OR (hits.score = ${after.score} AND hits.rid < ${after.rid}))`;
    arms.push(sql`SELECT hits.rid AS rid, 0 AS tier, hits.score AS score, 1 AS ranked
      FROM (${fromCompiled(text.scored)}) AS hits ${kept(options, matching, beyond)}
      ORDER BY hits.score, hits.rid DESC LIMIT ${limit}`);
  }
  if (text?.recent) {
    const beyond = after && sql`hits.rid < ${after.rid}`;
    arms.push(sql`SELECT hits.rid AS rid, 0 AS tier, 0 AS score, 0 AS ranked
      FROM (${fromCompiled(text.recent)}) AS hits ${kept(options, matching, beyond)}
      ORDER BY hits.rid DESC LIMIT ${limit}`);
  }
  const rest = restTier(search);
  if (rest) {
    const beyond = after?.tier === 1 ? sql`hits.rid < ${after.rid}` : undefined;
    arms.push(sql`SELECT hits.rid AS rid, 1 AS tier, 0 AS score, NULL AS ranked
      FROM (${fromCompiled(rest)}) AS hits ${kept(options, matching, beyond)}
      ORDER BY hits.rid DESC LIMIT ${limit}`);
  }
  // a tier-1 cursor of a search that has no second tier (forged, or from an older index) finds nothing more
  if (arms.length === 0) arms.push(sql`SELECT NULL AS rid, NULL AS tier, NULL AS score, NULL AS ranked WHERE 0`);
  const union = sql.join(
    arms.map((arm) => sql`SELECT * FROM (${arm})`),
    sql` UNION ALL `,
  );
  const page = text?.cte ? sql`WITH ${fromCompiled(text.cte)} ${union} LIMIT ${limit}` : sql`${union} LIMIT ${limit}`;
  return drizzle(store.db)
    .select({
      ...VIEW_COLUMNS,
      tier: sql<number>`page.tier`,
      score: sql<number>`page.score`,
      rid: sql<number>`page.rid`,
      ranked: sql<number | null>`page.ranked`,
    })
    .from(users)
    .innerJoin(sql`(${page}) AS page`, sql`page.rid = ${users}.rowid`)
    .orderBy(sql`page.tier`, sql`page.score`, sql`page.rid DESC`);
}

/**
 * The hits (`hits.rid`) a list keeps: not deleted (unless asked) and passing the filter. Without a filter that
 * takes no `users` row: deleted users' rowids come from `users_deleted_idx`.
 */
function kept(options: ListOptions, matching: readonly SQL[], beyond: SQL | null | undefined): SQL {
  const conditions = beyond ? [beyond] : [];
  if (options.filter) {
    return sql`JOIN ${users} ON ${users}.rowid = hits.rid WHERE ${and(...matching, ...conditions)}`;
  }
  if (!options.includeDeleted) {
    conditions.push(sql`hits.rid NOT IN (SELECT rowid FROM ${users} WHERE ${users.status} = 'deleted')`);
  }
  return conditions.length === 0 ? sql`` : sql`WHERE ${and(...conditions)}`;
}
