import type { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import type { AuditEventRow } from "../../core/db/shared-schema";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { PLAN_CONFIG } from "../../core/plans";
import { type FieldAccess, fieldAccess } from "../users/users.fields-access";
import { insertAudit, listAuditEvents, sealPending, verifyChain } from "./audit.repo";
import type { AuditQuerySchema } from "./audit.schema";
import { type AuditKey, type AuditRecord, auditKey, macOf } from "./audit-chain";
import type { Changes } from "./audit-changes";

type AuditEvent = ReturnType<typeof toEvent>;

/** A user's field the caller may be kept from reading (users.fields-access.ts). */
function isGuardedField(path: string): boolean {
  return path === "email" || path === "phone" || path.startsWith("attributes.");
}

/** `changes` as the API shows them: without the restricted marks, and for a user only what the caller may read. */
function shownChanges(event: AuditEvent, access: FieldAccess | null): Changes {
  const shown: Changes = {};
  const user = event.resource.type === "user";
  for (const [path, { from, to, restricted }] of Object.entries(event.changes)) {
    if (access && user && isGuardedField(path) && !access.canReadChange(path, restricted === true, event.resource.id)) {
      continue;
    }
    shown[path] = { from, to };
  }
  return shown;
}

/**
 * The events with the changes of users' fields the caller may not read left out. The schema is read only when a
 * user's event on the page changed such a field, and the credential lacks some field grant.
 */
async function readableEvents(ctx: ServiceContext, events: AuditEvent[]): Promise<AuditEvent[]> {
  const guarded = events.some((e) => e.resource.type === "user" && Object.keys(e.changes).some(isGuardedField));
  const access = guarded && ctx.permissions ? await fieldAccess(ctx) : null;
  return events.map((event) => ({ ...event, changes: shownChanges(event, access?.all ? null : access) }));
}

export interface AuditEntry {
  /** The event name (`user.created`, `tenant.deleted`, …). */
  action: string;
  resource: { type: string; id: string | null };
  changes?: Changes;
}

export interface AuditStatementOptions {
  /**
   * Write the event only if the statement just before it in the same batch changed a row (SQLite's
   * `changes()`): a guarded update (`WHERE version = ?`) that matched nothing then leaves no audit trace.
   */
  onlyIfPreviousChanged?: boolean;
  /** The time of the change, when the caller already fixed it. */
  at?: string;
}

/** The key that MACs this scope's audit events (cached per isolate). */
export function auditKeyOf(ctx: Pick<ServiceContext, "env" | "scope">): Promise<AuditKey> {
  return auditKey(ctx.env.MASTER_KEY, ctx.scope);
}

/** An audit event of this request, MAC'd and ready to insert (alone or set-based). */
export function auditRecord(ctx: ServiceContext, key: AuditKey, entry: AuditEntry, at: string): AuditRecord {
  const content = {
    id: newId("aud"),
    action: entry.action,
    actorType: ctx.actor.type,
    actorId: ctx.actor.id,
    resourceType: entry.resource.type,
    resourceId: entry.resource.id,
    changes: JSON.stringify(entry.changes ?? {}),
    requestId: ctx.request.requestId,
    ip: ctx.request.ip,
    userAgent: ctx.request.userAgent,
    createdAt: at,
  };
  return { ...content, mac: macOf(key, content) };
}

/** The INSERT of one audit event, to go in the same D1 batch as the change it records. */
export async function auditStatement(
  ctx: ServiceContext,
  entry: AuditEntry,
  options: AuditStatementOptions = {},
): Promise<D1PreparedStatement> {
  const record = auditRecord(ctx, await auditKeyOf(ctx), entry, options.at ?? new Date().toISOString());
  return insertAudit(ctx.db, record, options.onlyIfPreviousChanged ?? false);
}

/** Chains every event not yet sealed; safe to run concurrently (same values, `WHERE hash IS NULL`). */
export async function sealAuditTrail(ctx: Pick<ServiceContext, "env" | "db" | "scope">): Promise<number> {
  return sealPending(ctx.db, await auditKeyOf(ctx));
}

export async function verifyAuditTrail(ctx: Pick<ServiceContext, "env" | "db" | "scope">) {
  const key = await auditKeyOf(ctx);
  await sealPending(ctx.db, key);
  return verifyChain(ctx.db, key);
}

export function toEvent(row: AuditEventRow) {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actorType, id: row.actorId },
    resource: { type: row.resourceType, id: row.resourceId },
    changes: JSON.parse(row.changes) as Changes,
    requestId: row.requestId,
    ip: row.ip,
    userAgent: row.userAgent,
    createdAt: row.createdAt,
    hash: row.hash,
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The oldest time a tenant's plan lets the audit API show (`auditRetentionDays`); undefined for the platform trail.
 * Older events stay stored: the trail is append-only (triggers refuse DELETE) and its chain starts at the first
 * event, so purging them would break verification (docs/plans.md). The retention is a read-time window.
 */
export function retentionStart(ctx: Pick<ServiceContext, "tenant">, now = Date.now()): string | undefined {
  if (!ctx.tenant) return undefined;
  return new Date(now - PLAN_CONFIG[ctx.tenant.plan].quotas.auditRetentionDays * DAY_MS).toISOString();
}

/** Newest first, within the plan's retention window; seals first, so every event listed carries its chain link. */
export async function listAuditTrail(ctx: ServiceContext, query: z.infer<typeof AuditQuerySchema>) {
  const { limit, cursor, since, until, ...filters } = query;
  const beforeSeq = cursor ? decodeCursor("audit", cursor, ["number"])[0] : undefined;
  await sealAuditTrail(ctx);
  // both ISO 8601 UTC with milliseconds, so the later one is the greater text
  const bounds = [since ? new Date(since).toISOString() : undefined, retentionStart(ctx)].filter(
    (bound): bound is string => bound !== undefined,
  );
  const rows = await listAuditEvents(
    ctx.db,
    {
      ...filters,
      beforeSeq,
      since: bounds.sort().at(-1),
      until: until ? new Date(until).toISOString() : undefined,
    },
    limit + 1,
  );
  const page = pageOf(rows, limit, "audit", (row) => [row.seq], toEvent);
  return { ...page, data: await readableEvents(ctx, page.data) };
}
