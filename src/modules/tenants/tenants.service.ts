import { forgetTenantCredentials } from "../../core/auth/credentials";
import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import { tenantDatabases } from "../../core/db/databases";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { liveApiKeyIds } from "../api-keys/api-keys.repo";
import { indexEntryStatement, newApiKey, storeKeyStatements } from "../api-keys/api-keys.service";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { markAppliedStatements } from "../plans/plans.repo";
import {
  ADMIN_CALLER,
  assertMayChangePlan,
  assertMayDelete,
  assertRoomFor,
  type Caller,
  checkNewTenant,
  parentOfNew,
  reachableChain,
  tenantNotFound,
} from "./tenants.access";
import { TenantErrors } from "./tenants.errors";
import {
  claimDatabase,
  type DoomedTenant,
  deleteTenantRows,
  descendantsOf,
  findTenant,
  hasChildren,
  insertChildWithinQuota,
  insertTenant,
  listTenants as listTenantRows,
  orphanedDatabases,
  releaseDatabase,
  type TenantRow,
  updateTenant as updateTenantRow,
} from "./tenants.repo";
import type { Plan, Tenant } from "./tenants.schema";

/** A freed database rests at least this long (and longer than any credential cache) before reuse. */
function quarantineMs(env: Env): number {
  return Math.max(Number(env.DATABASE_QUARANTINE_SECONDS ?? 60), Number(env.CREDENTIAL_CACHE_SECONDS ?? 10)) * 1000;
}

export function toTenant(row: TenantRow): Tenant {
  const { id, name, plan, parentId, createdAt, updatedAt } = row;
  return { id, name, plan, parentId, createdAt, updatedAt };
}

/**
 * Platform-scope services run against the control database (ctx.db) and write the platform's audit trail, for
 * the admin token and for a tenant credential managing its sub-accounts (`caller`, tenants.access.ts) alike.
 */
export async function createTenant(
  ctx: ServiceContext,
  input: { name: string; plan?: Plan | undefined; parentId?: string | null | undefined },
  caller: Caller = ADMIN_CALLER,
) {
  const parent = await parentOfNew(ctx.db, caller, input.parentId);
  const { plan, quota } = await checkNewTenant(ctx.db, caller, parent, input.plan);
  const now = new Date().toISOString();
  const id = newId("ten");
  const binding = await claimDatabase(ctx.db, id, now, new Date(Date.now() - quarantineMs(ctx.env)).toISOString());
  if (!binding) {
    throw new ApiError(TenantErrors.TENANT_POOL_EXHAUSTED, {
      detail:
        "Every tenant database in the pool is in use; an operator must provision more (npm run tenants:provision).",
      headers: { "Retry-After": "300" },
    });
  }
  try {
    await tenantDatabases.erase(ctx.env, binding);
    const tenantDb = await tenantDatabases.prepare(ctx.env, binding);
    const row: TenantRow = {
      id,
      name: input.name,
      plan,
      parentId: parent?.tenant.id ?? null,
      databaseBinding: binding,
      createdAt: now,
      updatedAt: now,
      version: 1,
      securityPolicy: {},
      rateLimits: null,
    };
    // The first key is stored in the new tenant's database first, then the control batch makes tenant and key
    // real together (its event goes to the platform trail with tenant.created): until then the database is
    // unowned and no index entry points at the key, so a failure in between leaves nothing that authenticates.
    const key = await newApiKey({ name: "Initial admin key", roles: ["admin"], expiresAt: null });
    const tenantCtx = {
      ...ctx,
      db: tenantDb,
      scope: id,
      tenant: { id, plan: row.plan, parentId: row.parentId, databaseBinding: binding },
    };
    await tenantDb.batch(await storeKeyStatements(tenantCtx, key, { audited: false }));
    // under a quota, the insert counts the parent's sub-accounts itself: concurrent creations cannot overshoot
    const insert =
      quota === null
        ? [insertTenant(ctx.db, row)]
        : [insertChildWithinQuota(ctx.db, row, quota), assertPreviousChanged(ctx.db)];
    await ctx.db.batch([
      ...insert,
      indexEntryStatement(ctx.db, key.id, key, id),
      await auditStatement(
        ctx,
        {
          action: "tenant.created",
          resource: { type: "tenant", id },
          changes: diffChanges(null, { name: row.name, plan: row.plan, parentId: row.parentId }),
        },
        { at: now },
      ),
      await auditStatement(
        ctx,
        {
          action: "api_key.created",
          resource: { type: "api_key", id: key.id },
          changes: diffChanges(null, { tenantId: id, name: key.name, roles: key.roles }),
        },
        { at: now },
      ),
      ...(quota === null ? [] : [clearAssertions(ctx.db)]),
    ]);
    return { tenant: toTenant(row), etag: etagOf(1), apiKey: { id: key.id, secret: key.secret } };
  } catch (error) {
    await releaseDatabase(ctx.db, binding, null).run();
    if (parent && quota !== null && isAssertionFailure(error)) {
      await assertRoomFor(ctx.db, parent, quota);
      throw new ApiError(CoreErrors.CONFLICT, { detail: "Sub-accounts of the parent changed meanwhile; try again." });
    }
    // the parent was deleted meanwhile (tenants.parent_id)
    if (parent && /FOREIGN KEY constraint failed/.test(`${error}`)) throw tenantNotFound(parent.tenant.id);
    throw error;
  }
}

export async function getTenant(ctx: ServiceContext, id: string, caller: Caller = ADMIN_CALLER) {
  if (caller.kind === "tenant") await reachableChain(ctx.db, caller, id);
  const row = await findTenant(ctx.db, id);
  if (!row) throw tenantNotFound(id);
  return row;
}

/**
 * The admin lists every tenant, or the direct sub-accounts of `parentId`; a tenant credential lists the direct
 * sub-accounts of its tenant, or of one of its sub-accounts (`parentId`; any other is a 404).
 */
export async function listTenants(
  ctx: ServiceContext,
  query: { limit: number; cursor?: string | undefined; parentId?: string | undefined },
  caller: Caller = ADMIN_CALLER,
) {
  const parentId = query.parentId ?? (caller.kind === "tenant" ? caller.tenantId : undefined);
  if (caller.kind === "tenant" && parentId !== undefined && parentId !== caller.tenantId) {
    await reachableChain(ctx.db, caller, parentId);
  }
  // a cursor belongs to its list: one of another parent's children is refused, not misread
  const kind = parentId === undefined ? "tenants" : `tenants:${parentId}`;
  const position = query.cursor ? decodeCursor(kind, query.cursor, ["string", "string"]) : null;
  const after = position ? { createdAt: position[0], id: position[1] } : null;
  const rows = await listTenantRows(ctx.db, after, query.limit + 1, parentId);
  return pageOf(rows, query.limit, kind, (row) => [row.createdAt, row.id], toTenant);
}

/** A guarded write lost to a concurrent one this many times in a row gives up (409). */
const WRITE_ATTEMPTS = 3;

/**
 * Read, diff, write with `WHERE version = ?`. When another write got in between, read again and retry —
 * unless the caller pinned the version with If-Match, which then fails with 412.
 */
export async function updateTenant(
  ctx: ServiceContext,
  id: string,
  changes: { name?: string | undefined; plan?: Plan | undefined },
  ifMatch: string | undefined,
  caller: Caller = ADMIN_CALLER,
) {
  if (caller.kind === "tenant") await reachableChain(ctx.db, caller, id);
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const current = await getTenant(ctx, id);
    assertIfMatch(ifMatch, etagOf(current.version));
    assertMayChangePlan(caller, current.plan, changes.plan);
    const next: TenantRow = {
      ...current,
      ...stripUndefined(changes),
      updatedAt: new Date().toISOString(),
      version: current.version + 1,
    };
    const diff = diffChanges({ name: current.name, plan: current.plan }, { name: next.name, plan: next.plan });
    if (Object.keys(diff).length === 0) return current;
    const [update] = await ctx.db.batch([
      updateTenantRow(ctx.db, id, current.version, { name: next.name, plan: next.plan, updatedAt: next.updatedAt }),
      await auditStatement(
        ctx,
        { action: "tenant.updated", resource: { type: "tenant", id }, changes: diff },
        { onlyIfPreviousChanged: true },
      ),
      // a pending plan change request for the new plan is now applied (guarded on the row this batch wrote)
      ...(diff.plan ? markAppliedStatements(ctx.db, id, next.plan, next.updatedAt) : []),
    ]);
    if (update?.meta.changes) {
      forgetTenantCredentials(id);
      return next;
    }
    if (ifMatch) {
      throw new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: "The tenant changed meanwhile; read it again." });
    }
  }
  throw new ApiError(CoreErrors.CONFLICT, {
    detail: `Tenant ${id} changed ${WRITE_ATTEMPTS} times while this request tried to write it; try again.`,
  });
}

/**
 * Deletes the tenant and its keys, erases its database and returns it to the pool (after a rest). If the
 * erase fails half-way, the daily reclaim job finishes it (the database stays out of the pool until then).
 * The delete is guarded (by version under If-Match), and its audit row is written only if it deleted: of two
 * concurrent deletions one wins, the other is a 404, and the trail records one deletion.
 * A tenant with sub-accounts is refused (409) unless `cascade`: then its whole subtree goes first, the deepest
 * tenants first, each the same way (a failure half-way leaves the rest for a retry).
 */
export async function deleteTenant(
  ctx: ServiceContext,
  id: string,
  ifMatch: string | undefined,
  options: { cascade?: boolean; caller?: Caller } = {},
) {
  const caller = options.caller ?? ADMIN_CALLER;
  const current = await getTenant(ctx, id, caller);
  assertMayDelete(caller, id);
  assertIfMatch(ifMatch, etagOf(current.version));
  if (await hasChildren(ctx.db, id)) {
    if (!options.cascade) throw hasChildrenError();
    for (const descendant of await descendantsOf(ctx.db, id)) await deleteOne(ctx, descendant, undefined);
  }
  await deleteOne(ctx, current, ifMatch ? current.version : undefined);
}

/** Deletes one tenant without sub-accounts (guarded on `version` when given), then frees its database. */
async function deleteOne(ctx: ServiceContext, tenant: DoomedTenant, version: number | undefined) {
  const { id } = tenant;
  const rows = deleteTenantRows(ctx.db, id, version);
  let deleted: number;
  try {
    const [result] = await ctx.db.batch([
      rows.tenant,
      await auditStatement(
        ctx,
        {
          action: "tenant.deleted",
          resource: { type: "tenant", id },
          // the parent is recorded because the tenant row is gone with this batch: its event goes to the parent
          // (control migration 0008)
          changes: diffChanges({ name: tenant.name, plan: tenant.plan, parentId: tenant.parentId }, null),
        },
        { onlyIfPreviousChanged: true },
      ),
      rows.keyIndex,
    ]);
    deleted = result?.meta.changes ?? 0;
  } catch (error) {
    // a sub-account created since the check above still points at this tenant (tenants.parent_id)
    if (/FOREIGN KEY constraint failed/.test(`${error}`)) throw hasChildrenError();
    throw error;
  }
  if (deleted === 0) {
    if (!(await findTenant(ctx.db, id))) throw tenantNotFound(id);
    throw new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: "The tenant changed meanwhile; read it again." });
  }
  forgetTenantCredentials(id);
  await eraseAndRelease(ctx.env, ctx.db, tenant.databaseBinding);
}

function hasChildrenError(): ApiError {
  return new ApiError(TenantErrors.TENANT_HAS_CHILDREN, {
    detail: "Delete its sub-accounts first, or delete them with it: ?cascade=true.",
  });
}

async function eraseAndRelease(env: Env, control: D1Database, binding: string) {
  await revokeKeysOf(env, binding);
  await tenantDatabases.erase(env, binding);
  await releaseDatabase(control, binding, new Date().toISOString()).run();
}

/**
 * Revokes the Durable Object of every live key in the database, so that an isolate that still caches one of
 * them refuses it at once. Their index entries are already gone with the tenant row.
 */
async function revokeKeysOf(env: Env, binding: string): Promise<void> {
  let ids: string[];
  try {
    ids = await liveApiKeyIds((env as unknown as Record<string, D1Database>)[binding] as D1Database);
  } catch {
    return; // an erase that stopped half-way left no table; the index entries, which authenticate, are gone anyway
  }
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((keyId) => credentialGuard(env, `key:${keyId}`).revoke()));
  }
}

/** Cron: finish deletions that stopped between removing the tenant and freeing its database. */
export async function reclaimOrphanedDatabases(env: Env, control: D1Database): Promise<number> {
  const orphans = await orphanedDatabases(control);
  for (const binding of orphans) await eraseAndRelease(env, control, binding);
  return orphans.length;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
