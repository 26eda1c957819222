import { and, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jsonChunks } from "../../core/db/json-rows";
import { type AuditEventRow, auditEvents } from "../../core/db/shared-schema";
import { type AuditKey, type AuditRecord, GENESIS, linkOf, macOf } from "./audit-chain";

const COLUMNS =
  "id, action, actor_type, actor_id, resource_type, resource_id, changes, request_id, ip, user_agent, created_at, mac";

function values(record: AuditRecord): unknown[] {
  return [
    record.id,
    record.action,
    record.actorType,
    record.actorId,
    record.resourceType,
    record.resourceId,
    record.changes,
    record.requestId,
    record.ip,
    record.userAgent,
    record.createdAt,
    record.mac,
  ];
}

/** One event; with `onlyIfPreviousChanged`, written only if the statement before it in the batch changed a row. */
export function insertAudit(db: D1Database, record: AuditRecord, onlyIfPreviousChanged: boolean) {
  const sql = onlyIfPreviousChanged
    ? `INSERT INTO audit_events (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`
    : `INSERT INTO audit_events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  return db.prepare(sql).bind(...values(record));
}

/**
 * Many events in request order, set-based (json_each). With `onlyForExistingUsers`, an event is written only
 * if the user it names exists, so creates that were skipped on conflict leave no event.
 */
export function insertAuditMany(db: D1Database, records: readonly AuditRecord[], onlyForExistingUsers: boolean) {
  const guard = onlyForExistingUsers ? "WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = value ->> 5)" : "";
  const sql = `INSERT INTO audit_events (${COLUMNS})
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
           value ->> 8, value ->> 9, value ->> 10, value ->> 11
    FROM json_each(?) ${guard} ORDER BY key`;
  return jsonChunks(records.map(values)).map((chunk) => db.prepare(sql).bind(chunk));
}

const SEAL_PAGE = 500;

export async function sealPending(db: D1Database, key: AuditKey): Promise<number> {
  let sealed = 0;
  for (;;) {
    const [last, pending] = await db.batch<{ seq: number; hash: string | null; mac: string }>([
      db.prepare("SELECT seq, hash, mac FROM audit_events WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1"),
      db.prepare(`SELECT seq, hash, mac FROM audit_events WHERE hash IS NULL ORDER BY seq LIMIT ${SEAL_PAGE}`),
    ]);
    const rows = pending?.results ?? [];
    if (rows.length === 0) return sealed;
    let previous = last?.results[0]?.hash ?? GENESIS;
    const updates: D1PreparedStatement[] = [];
    for (const row of rows) {
      previous = linkOf(key, previous, row.mac);
      updates.push(
        db.prepare("UPDATE audit_events SET hash = ? WHERE seq = ? AND hash IS NULL").bind(previous, row.seq),
      );
    }
    await db.batch(updates);
    sealed += rows.length;
    if (rows.length < SEAL_PAGE) return sealed;
  }
}

export interface ChainReport {
  intact: boolean;
  checked: number;
  firstBrokenId?: string;
}

const VERIFY_PAGE = 1000;

/** Walks the whole trail in order: every MAC, every link, and no missing sequence number. */
export async function verifyChain(db: D1Database, key: AuditKey): Promise<ChainReport> {
  const orm = drizzle(db);
  let previousHash = GENESIS;
  let expectedSeq = 1;
  let checked = 0;
  for (;;) {
    const rows = await orm
      .select()
      .from(auditEvents)
      .where(gte(auditEvents.seq, expectedSeq))
      .orderBy(auditEvents.seq)
      .limit(VERIFY_PAGE);
    for (const row of rows) {
      checked++;
      const mac = macOf(key, row);
      const link = row.hash === null ? null : linkOf(key, previousHash, row.mac);
      if (row.seq !== expectedSeq || mac !== row.mac || link !== row.hash) {
        return { intact: false, checked, firstBrokenId: row.id };
      }
      previousHash = row.hash as string;
      expectedSeq++;
    }
    if (rows.length < VERIFY_PAGE) return { intact: true, checked };
  }
}

export interface AuditFilters {
  resourceId?: string;
  action?: string;
  actorId?: string;
  since?: string;
  until?: string;
  /** Return events older than this sequence number (cursor). */
  beforeSeq?: number;
}

export async function listAuditEvents(db: D1Database, filters: AuditFilters, limit: number): Promise<AuditEventRow[]> {
  const conditions: SQL[] = [];
  if (filters.resourceId) conditions.push(eq(auditEvents.resourceId, filters.resourceId));
  if (filters.action) conditions.push(eq(auditEvents.action, filters.action));
  if (filters.actorId) conditions.push(eq(auditEvents.actorId, filters.actorId));
  if (filters.since) conditions.push(gte(auditEvents.createdAt, filters.since));
  if (filters.until) conditions.push(lt(auditEvents.createdAt, filters.until));
  if (filters.beforeSeq !== undefined) conditions.push(lt(auditEvents.seq, filters.beforeSeq));
  return drizzle(db)
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.seq))
    .limit(limit);
}
