import { hmacHex, hmacKey } from "../../core/crypto/hash";
import { deriveKeyBytes } from "../../core/crypto/master-key";

/**
 * Tamper evidence for the audit trail. Each event gets, when written, a MAC over its content under a key
 * derived from MASTER_KEY for this scope (tenant): editing a row without the key is detectable at once.
 * Sealing then chains events in `seq` order: hash_n = HMAC(key, hash_{n-1} ":" mac_n), starting from
 * GENESIS, so a removed, reordered or inserted event breaks every later link. Sealing is deterministic, so
 * concurrent sealers write identical values.
 */
export const GENESIS = "genesis";

const keys = new Map<string, Promise<CryptoKey>>();

export function auditKey(masterKey: string, scope: string): Promise<CryptoKey> {
  const cacheKey = `${scope}\u0000${masterKey}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = deriveKeyBytes(masterKey, "uom/audit-chain/v1", scope).then(hmacKey);
    keys.set(cacheKey, key);
  }
  return key;
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

export function macOf(key: CryptoKey, event: AuditContent): Promise<string> {
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

export function linkOf(key: CryptoKey, previousHash: string, mac: string): Promise<string> {
  return hmacHex(key, `${previousHash}:${mac}`);
}
