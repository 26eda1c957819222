import type { SyncKv } from "./credential-state";

/**
 * An API key's `lastUsedAt` without a D1 write per request: the key's Durable Object, which every request
 * already calls, notes each use in memory and writes the latest one to the tenant's database at most once per
 * LAST_USED_FLUSH_SECONDS (by alarm). The first use of each period is also put in the object's storage, so an
 * eviction loses at most that period's later uses, never the record that the key was used.
 */

/** Where a key's last use is written: its tenant's database binding and its id. */
export interface TouchTarget {
  binding: string;
  keyId: string;
}

interface PendingUse extends TouchTarget {
  /** The latest use, ms since the epoch. */
  at: number;
  /** When it is to be written. */
  due: number;
}

const PENDING = "last-used";
const POOL_BINDING = /^TENANT_DB_\d+$/;

export class LastUse {
  #pending: PendingUse | undefined;

  constructor(private readonly kv: SyncKv) {}

  /** Notes a use; returns the time a write must be scheduled for, when none is scheduled yet. */
  touch(target: TouchTarget, now: number, flushMs: number): number | undefined {
    const pending = this.#pending ?? this.kv.get<PendingUse>(PENDING);
    this.#pending = { ...target, at: Math.max(now, pending?.at ?? 0), due: pending?.due ?? now + flushMs };
    if (pending) return undefined;
    this.kv.put(PENDING, this.#pending);
    return this.#pending.due;
  }

  /** When the pending use is due to be written, if there is one. */
  due(): number | undefined {
    return (this.#pending ?? this.kv.get<PendingUse>(PENDING))?.due;
  }

  /** The pending use, handed over for writing (and forgotten here). */
  take(): PendingUse | undefined {
    const pending = this.#pending ?? this.kv.get<PendingUse>(PENDING);
    this.#pending = undefined;
    this.kv.delete(PENDING);
    return pending;
  }
}

/** Writes a use to the key's row; never moves `last_used_at` back. */
export async function writeLastUse(env: Env, use: PendingUse): Promise<void> {
  if (!POOL_BINDING.test(use.binding)) return;
  const db = (env as unknown as Record<string, D1Database | undefined>)[use.binding];
  if (!db) return;
  try {
    await db
      .prepare("UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)")
      .bind(new Date(use.at).toISOString(), use.keyId)
      .run();
  } catch {
    // the tenant's database was erased meanwhile (the tenant was deleted): there is nothing left to record
  }
}

export function flushIntervalMs(env: Env): number {
  return Number(env.LAST_USED_FLUSH_SECONDS ?? 60) * 1000;
}
