import { and, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { type AuditEventRow, auditEvents } from "../../core/db/shared-schema";
import { GENESIS, linkOf, macOf } from "./audit-chain";

const COLUMNS =
  "id, action, actor_type, actor_id, resource_type, resource_id, changes, request_id, ip, user_agent, created_at, mac";

export function insertAuditSql(onlyIfPreviousChanged: boolean): string {
  return onlyIfPreviousChanged
    ? `INSERT INTO audit_events (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`
    : `INSERT INTO audit_events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
}

const SEAL_PAGE = 500;

export async function sealPending(db: D1Database, key: CryptoKey): Promise<number> {
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
      previous = await linkOf(key, previous, row.mac);
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
export async function verifyChain(db: D1Database, key: CryptoKey): Promise<ChainReport> {
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
      const mac = await macOf(key, row);
      const link = row.hash === null ? null : await linkOf(key, previousHash, row.mac);
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
