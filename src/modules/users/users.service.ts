import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { uniqueViolation } from "../../core/db/statements";
import type { UserRow } from "../../core/db/tenant-schema";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import type { Json } from "../../core/http/merge-patch";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { validationError } from "../../core/http/validation";
import type { NewUserInput } from "../../core/plugins/define";
import { runAfterHooks, runBeforeHooks } from "../../core/plugins/hooks";
import { assertRoomForUser } from "../plans/plans.quotas";
import { fieldCatalogue, sortExpression } from "../schema/fields.catalogue";
import { uniqueFieldConflict } from "../schema/fields.indexes";
import { schemaChanged, schemaGuard, tenantSchema } from "../schema/schema.service";
import { D1_MAX_PARAMS } from "../search/filter.compiler";
import { expandSegments } from "../segments/segments.filter";
import { forgetCachedUsers, readCachedUser } from "./users.cache";
import { UserErrors } from "./users.errors";
import { assertFilterReadable, assertSortReadable, searchScope } from "./users.fields-access";
import { compileUserFilter, parseUserFilter } from "./users.filter";
import {
  type ListedUser,
  type ListPosition,
  listUsers as listUserRows,
  type RankPosition,
  type SortKey,
} from "./users.list";
import { toUser } from "./users.mapping";
import {
  conflictFor,
  notFound,
  type Plan,
  planCreate,
  planPurge,
  planRestore,
  planSoftDelete,
  planUpdate,
} from "./users.plans";
import { findUser } from "./users.repo";
import type { CreateUserInput, User, UserSort } from "./users.schema";
import { compileUserSearch } from "./users.search";
import { endSessionsIfRightsChanged } from "./users.sessions";

export interface VersionedUser {
  user: User;
  etag: string;
}

const WRITE_ATTEMPTS = 6;

/** A short random pause between attempts, so racing writers stop colliding in lockstep. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
}

/**
 * A user's ETag: its version, and the schema version once custom fields exist, since a schema change (a field
 * deleted, renamed, converted) changes every user's representation without touching its row.
 */
export async function userEtag(ctx: ServiceContext, version: number): Promise<string> {
  const schemaVersion = (await tenantSchema(ctx)).version;
  return schemaVersion === 0 ? etagOf(version) : `"v${version}-s${schemaVersion}"`;
}

async function versioned(ctx: ServiceContext, row: UserRow): Promise<VersionedUser> {
  return { user: toUser(row), etag: await userEtag(ctx, row.version) };
}

/** Runs a plan's batch; false when its guarded change matched no row (someone changed the user first). */
async function commit(ctx: ServiceContext, plan: Plan): Promise<boolean> {
  try {
    const [change] = await ctx.db.batch([...plan.statements, ...(await schemaGuard(ctx))]);
    return (change?.meta.changes ?? 0) > 0;
  } catch (error) {
    throw (
      conflictFor(uniqueViolation(error)) ?? (await uniqueFieldConflict(ctx, error)) ?? schemaChanged(error) ?? error
    );
  }
}

async function currentUser(ctx: ServiceContext, id: string, includeDeleted: boolean): Promise<UserRow> {
  const row = await findUser(ctx, id);
  if (!row || (row.status === "deleted" && !includeDeleted)) throw notFound(id);
  return row;
}

/**
 * Read, plan, write with `WHERE version = ?`; when another write got in between, read again and retry —
 * unless the caller pinned the version with If-Match, which then fails with 412.
 */
async function change(
  ctx: ServiceContext,
  id: string,
  options: { ifMatch?: string | undefined; includeDeleted: boolean },
  plan: (current: UserRow, at: string) => Promise<Plan | null>,
): Promise<{ before: UserRow; after: UserRow | null }> {
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const current = await currentUser(ctx, id, options.includeDeleted);
    assertIfMatch(options.ifMatch, await userEtag(ctx, current.version));
    const planned = await plan(current, new Date().toISOString());
    if (!planned) return { before: current, after: current };
    if (await commit(ctx, planned)) {
      await forgetCachedUsers(ctx, [id]);
      await endSessionsIfRightsChanged(ctx, current, planned.after);
      return { before: current, after: planned.after };
    }
    if (options.ifMatch) assertIfMatch(options.ifMatch, await userEtag(ctx, current.version + 1));
    await backoff(attempt);
  }
  throw new ApiError(UserErrors.USER_WRITE_CONFLICT, {
    detail: `User ${id} changed ${WRITE_ATTEMPTS} times while this request tried to write it.`,
  });
}

/** Plugins' and HTTP actions' before-hooks may change what is created (docs/plugins.md); never see the password. */
async function hookedCreate(ctx: ServiceContext, input: CreateUserInput): Promise<CreateUserInput> {
  const { password, ...user } = input;
  const hooked = await runBeforeHooks(ctx, "user.create", { user: user as NewUserInput });
  return { ...(hooked.input.user as CreateUserInput), ...(password === undefined ? {} : { password }) };
}

export async function createUser(ctx: ServiceContext, input: CreateUserInput): Promise<VersionedUser> {
  await assertRoomForUser(ctx); // the plan's maxUsers (SCIM creates come here too)
  const plan = await planCreate(ctx, await hookedCreate(ctx, input), new Date().toISOString());
  await commit(ctx, plan);
  const created = plan.after as UserRow;
  ctx.waitUntil(runAfterHooks(ctx, "user.create", { userId: created.id }));
  return versioned(ctx, created);
}

/** A read: through the profile cache (users.cache.ts); writes read the row from D1 (`currentUser`). */
export async function getUser(ctx: ServiceContext, id: string, includeDeleted: boolean): Promise<VersionedUser> {
  const row = await readCachedUser(ctx, id);
  if (!row || (row.status === "deleted" && !includeDeleted)) throw notFound(id);
  return versioned(ctx, row);
}

/** `named`: the restricted fields the caller's request names, when `patch` is derived from it (planUpdate). */
export async function updateUser(
  ctx: ServiceContext,
  id: string,
  patch: Json,
  ifMatch: string | undefined,
  named?: readonly string[],
): Promise<VersionedUser> {
  const hooked = isPatchObject(patch)
    ? (await runBeforeHooks(ctx, "user.update", { userId: id, patch })).input.patch
    : patch;
  const { before, after } = await change(ctx, id, { ifMatch, includeDeleted: false }, (current, at) =>
    planUpdate(ctx, current, hooked, at, [], named),
  );
  if (after !== before) ctx.waitUntil(runAfterHooks(ctx, "user.update", { userId: id }));
  return versioned(ctx, after as UserRow);
}

function isPatchObject(patch: Json): patch is Record<string, Json> {
  return typeof patch === "object" && patch !== null && !Array.isArray(patch);
}

export async function softDeleteUser(ctx: ServiceContext, id: string, ifMatch: string | undefined) {
  await runBeforeHooks(ctx, "user.delete", { userId: id, permanent: false });
  const { after } = await change(ctx, id, { ifMatch, includeDeleted: false }, (current, at) =>
    planSoftDelete(ctx, current, at),
  );
  ctx.waitUntil(runAfterHooks(ctx, "user.delete", { userId: id, permanent: false }));
  return versioned(ctx, after as UserRow);
}

export async function restoreUser(ctx: ServiceContext, id: string, ifMatch: string | undefined) {
  const { after } = await change(ctx, id, { ifMatch, includeDeleted: true }, (current, at) =>
    planRestore(ctx, current, at),
  );
  return versioned(ctx, after as UserRow);
}

export async function purgeUser(ctx: ServiceContext, id: string, ifMatch: string | undefined): Promise<void> {
  await runBeforeHooks(ctx, "user.delete", { userId: id, permanent: true });
  await change(ctx, id, { ifMatch, includeDeleted: true }, (current, at) => planPurge(ctx, current, at));
  ctx.waitUntil(runAfterHooks(ctx, "user.delete", { userId: id, permanent: true }));
}

export interface UserListQuery {
  limit: number;
  cursor?: string | undefined;
  /** Default: `relevance` with `q`, else `createdAt`. */
  sort?: UserSort | undefined;
  includeDeleted: boolean;
  filter?: string | undefined;
  q?: string | undefined;
  count?: boolean | undefined;
}

/** A short tag of a query string, so that a cursor is bound to the filter or search it was made for. */
async function tagOf(name: string, text: string | undefined): Promise<string> {
  return text === undefined ? "" : `:${name}${(await sha256Hex(text)).slice(0, 16)}`;
}

export async function listUsers(
  ctx: ServiceContext,
  query: UserListQuery,
): Promise<{ data: User[]; nextCursor: string | null; total?: number }> {
  const sort = query.sort ?? (query.q === undefined ? "createdAt" : "relevance");
  if (sort === "relevance" && query.q === undefined) {
    throw validationError(
      [{ field: "sort", code: "needs_q", detail: "Sorting by relevance needs a search (`q`)." }],
      "query",
    );
  }
  // saved segments named in the filter become their own filters first, so the checks below see what is filtered on
  const tree =
    query.filter === undefined
      ? undefined
      : await expandSegments(ctx.db, parseUserFilter(query.filter), parseUserFilter);
  // filtering or sorting on a field the caller may not read would tell its values: refused (403)
  if (tree) await assertFilterReadable(ctx, tree);
  await assertSortReadable(ctx, sort);
  const search = query.q === undefined ? undefined : await compileUserSearch(ctx, query.q, () => searchScope(ctx));
  // a cursor belongs to one order, one filter and one search: another's cursor would skip or repeat users
  const tags = (await tagOf("f", query.filter)) + (await tagOf("q", search?.words.join(" ")));
  const kind = `users:${sort}:${query.includeDeleted ? "all" : "live"}${tags}`;
  const after = query.cursor && sort !== "relevance" ? decodePosition(kind, query.cursor, sort) : null;
  const rankAfter = query.cursor && sort === "relevance" ? decodeRankPosition(kind, query.cursor) : null;
  // the list binds at most 6 parameters of its own (status, cursor values, limits), and the search's
  const reserved = 6 + (search?.maxParams ?? 0);
  const attributes = tree && (await fieldCatalogue(ctx, await tenantSchema(ctx), tree));
  const filter =
    tree && (await compileUserFilter(ctx, tree, { attributes, now: Date.now(), maxParams: D1_MAX_PARAMS - reserved }));
  const sortKey = await sortKeyOf(ctx, sort);
  const { rows, total } = await listUserRows(ctx, {
    ...query,
    sort,
    sortKey,
    after,
    rankAfter,
    filter,
    search,
    count: query.count === true,
    limit: query.limit + 1,
  });
  const position = (row: ListedUser) => {
    if (sort === "relevance") return [row.tier ?? 0, row.score ?? 0, row.rid ?? 0, row.ranked ? 1 : 0];
    if (sortKey) return [JSON.stringify(row.sortValue ?? null), row.id];
    return [sort.endsWith("updatedAt") ? row.updatedAt : row.createdAt, row.id];
  };
  const page = pageOf(rows, query.limit, kind, position, toUser);
  return total === null ? page : { ...page, total };
}

/** The (tier, score, rowid, scored) a relevance cursor holds (users.list.ts, RankPosition). */
function decodeRankPosition(kind: string, cursor: string): RankPosition {
  const [tier, score, rid, ranked] = decodeCursor(kind, cursor, ["number", "number", "number", "number"]);
  if ((tier !== 0 && tier !== 1) || !Number.isSafeInteger(rid) || (ranked !== 0 && ranked !== 1)) {
    throw new ApiError(CoreErrors.INVALID_CURSOR, { detail: "The cursor is not valid for this list." });
  }
  return { tier, score, rid, ranked: ranked === 1 };
}

/** The (sort value, id) a cursor holds: a time is a string, a keyed value JSON. */
function decodePosition(kind: string, cursor: string, sort: UserSort): ListPosition {
  const [value, id] = decodeCursor(kind, cursor, ["string", "string"]);
  if (!isKeyedSort(sort)) return { value, id };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && !["string", "number", "boolean"].includes(typeof parsed)) {
    throw new ApiError(CoreErrors.INVALID_CURSOR, { detail: "The cursor is not valid for this list." });
  }
  return { value: parsed as ListPosition["value"], id };
}

function isKeyedSort(sort: UserSort): boolean {
  return sort.includes("attributes.") || sort.endsWith("lastLoginAt");
}

/**
 * The sort expression of `lastLoginAt` or a custom field (`attributes.<name>`, which must be `sortable`), through
 * their indexes; undefined for the timestamps and relevance.
 */
async function sortKeyOf(ctx: ServiceContext, sort: UserSort): Promise<SortKey | undefined> {
  if (!isKeyedSort(sort)) return undefined;
  const descending = sort.startsWith("-");
  if (sort.endsWith("lastLoginAt")) return { expression: "users.last_login_at", descending };
  const name = sort.replace(/^-?attributes\./, "");
  const expression = sortExpression(await tenantSchema(ctx), name);
  if (expression === null) {
    throw validationError(
      [{ field: "sort", code: "not_sortable", detail: `'attributes.${name}' is not a sortable custom field.` }],
      "query",
    );
  }
  return { expression, descending };
}
