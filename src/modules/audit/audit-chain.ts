import { createHmac } from "node:crypto";
import { longLivedKeyBytes } from "../../core/crypto/master-key";

/**
 * Tamper evidence for the audit trail. Each event gets, when written, a MAC over its content under a key
 * derived from MASTER_KEY for this scope (tenant): editing a row without the key is detectable at once.
 * Sealing then chains events in `seq` order: hash_n = HMAC(key, hash_{n-1} ":" mac_n), starting from
 * GENESIS, so a removed, reordered or inserted event breaks every later link. Sealing is deterministic, so
 * concurrent sealers write identical values. The HMACs are node:crypto's (native and synchronous under
 * nodejs_compat): a bulk request MACs a thousand events, and a promise per event would cost more than the MAC.
 */
export const GENESIS = "genesis";

/** The raw HMAC key of one scope's audit trail. */
export type AuditKey = Uint8Array;

export function auditKey(masterKey: string, scope: string): Promise<AuditKey> {
  return longLivedKeyBytes(masterKey, "uom/audit-chain/v1", scope);
}

function hmacHex(key: AuditKey, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

export interface AuditContent {
  id: string;
  action: string;
  actorType: string;
  actorId: string | null;
  resourceType: string;
  resourceId: string | null;
  changes: string;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
}

export function macOf(key: AuditKey, event: AuditContent): string {
  return hmacHex(
    key,
    JSON.stringify([
      event.id,
      event.action,
      event.actorType,
      event.actorId,
      event.resourceType,
      event.resourceId,
      event.changes,
      event.requestId,
      event.ip,
      event.userAgent,
      event.createdAt,
    ]),
  );
}

export function linkOf(key: AuditKey, previousHash: string, mac: string): string {
  return hmacHex(key, `${previousHash}:${mac}`);
}

/** An audit event as stored when written (its chain link `hash` is added when sealed). */
export interface AuditRecord extends AuditContent {
  mac: string;
}
