/**
 * The part of a credential's state that must take effect at once everywhere (DESIGN.md convention 4): whether
 * it was revoked, which of its secrets were retired, which of its tokens were denied. It lives in the
 * credential's own Durable Object, which every authenticated request consults once; KV, being eventually
 * consistent, never holds it. Entries carry their own end, after which they no longer matter and are purged.
 */

import type { TouchTarget } from "./last-used";

/** What a request shows of its credential. */
export interface CredentialProbe {
  /** SHA-256 of the API-key secret presented. */
  secretHash?: string;
  /** An access token's `jti`. */
  jti?: string;
  /** An access token's session (refresh-token family) id. */
  sid?: string;
  /**
   * When the token was issued, in ms: finer than `iat` (whole seconds), so a token issued just after a
   * "sign out everywhere" in the same second still works and one issued just before does not.
   */
  issuedAtMs?: number;
  /** Note this use of an API key (its lastUsedAt, written to D1 in batches: see last-used.ts). */
  touch?: TouchTarget;
}

export type CredentialVerdict = { ok: true } | { ok: false; reason: string };

const REVOKED = "revoked";
const NOT_BEFORE = "not-before";
const ACCESS_NOT_BEFORE = "access-not-before";
const secretKey = (hash: string) => `secret:${hash}`;
const tokenKey = (jti: string) => `jti:${jti}`;
const sessionKey = (sid: string) => `sid:${sid}`;

/** Synchronous key-value storage of a SQLite-backed Durable Object (`ctx.storage.kv`). */
export interface SyncKv {
  get<T = unknown>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): boolean;
  list<T = unknown>(options?: { prefix?: string }): Iterable<[string, T]>;
}

/** Past this many remembered keys (a user's many token ids), the memory starts over. */
const MEMO_MAX_KEYS = 1_024;

/**
 * Reads of `kv` kept in memory, absences included. Sound because this object is the only writer of its storage and
 * writes through here: every request asks the same few keys (revoked? not-before? this secret?), and each `get` of
 * `ctx.storage.kv` is a SQLite query.
 */
export class MemoKv implements SyncKv {
  readonly #known = new Map<string, unknown>();

  constructor(private readonly kv: SyncKv) {}

  get<T = unknown>(key: string): T | undefined {
    if (this.#known.has(key)) return this.#known.get(key) as T | undefined;
    const value = this.kv.get<T>(key);
    if (this.#known.size >= MEMO_MAX_KEYS) this.#known.clear();
    this.#known.set(key, value);
    return value;
  }

  put<T>(key: string, value: T): void {
    this.kv.put(key, value);
    this.#known.set(key, value);
  }

  delete(key: string): boolean {
    this.#known.delete(key);
    return this.kv.delete(key);
  }

  list<T = unknown>(options?: { prefix?: string }): Iterable<[string, T]> {
    return this.kv.list<T>(options);
  }
}

export class CredentialState {
  private readonly kv: SyncKv;

  constructor(kv: SyncKv) {
    this.kv = new MemoKv(kv);
  }

  check(probe: CredentialProbe, now = Date.now()): CredentialVerdict {
    if (this.kv.get<number>(REVOKED) !== undefined) return { ok: false, reason: "revoked" };
    const notBefore = this.kv.get<number>(NOT_BEFORE);
    if (notBefore !== undefined && probe.issuedAtMs !== undefined && probe.issuedAtMs < notBefore) {
      return { ok: false, reason: "revoked" };
    }
    // access tokens are the probes with a jti; refresh tokens (a sid alone) outlive this cut-off
    const accessNotBefore = this.kv.get<number>(ACCESS_NOT_BEFORE);
    if (
      accessNotBefore !== undefined &&
      probe.jti &&
      probe.issuedAtMs !== undefined &&
      probe.issuedAtMs < accessNotBefore
    ) {
      return { ok: false, reason: "revoked" };
    }
    if (probe.secretHash) {
      const notAfter = this.kv.get<number>(secretKey(probe.secretHash));
      if (notAfter !== undefined && notAfter <= now) return { ok: false, reason: "expired" };
    }
    if (probe.jti && this.kv.get(tokenKey(probe.jti)) !== undefined) return { ok: false, reason: "revoked" };
    if (probe.sid && this.kv.get(sessionKey(probe.sid)) !== undefined) return { ok: false, reason: "revoked" };
    return { ok: true };
  }

  /** The credential stops working for good (a revoked key, a deleted client or user). */
  revoke(now = Date.now()): void {
    this.kv.put(REVOKED, now);
  }

  /** Tokens issued before `at` stop working; later ones still work (a user's "sign out everywhere"). */
  revokeIssuedBefore(at: number): void {
    this.kv.put(NOT_BEFORE, Math.max(at, this.kv.get<number>(NOT_BEFORE) ?? 0));
  }

  /**
   * Access tokens issued before `at` stop working, refresh tokens do not: after a change of rights (roles) the
   * next refresh issues tokens with the new ones, and no token with the old ones works any more.
   */
  revokeAccessTokensIssuedBefore(at: number): void {
    this.kv.put(ACCESS_NOT_BEFORE, Math.max(at, this.kv.get<number>(ACCESS_NOT_BEFORE) ?? 0));
  }

  /** One secret of the credential stops working at `notAfter` (rotation with a grace period). */
  retireSecret(secretHash: string, notAfter: number): void {
    this.kv.put(secretKey(secretHash), notAfter);
  }

  /** One access token is refused until it would have expired anyway. */
  denyToken(jti: string, until: number): void {
    this.kv.put(tokenKey(jti), until);
  }

  /** Every token of a session (refresh-token family) is refused until `until`. */
  revokeSession(sid: string, until: number): void {
    this.kv.put(sessionKey(sid), until);
  }

  /** Drops entries that no longer decide anything; returns the next time one will lapse, if any. */
  purge(now = Date.now()): number | undefined {
    let next: number | undefined;
    for (const prefix of ["secret:", "jti:", "sid:"]) {
      for (const [key, until] of this.kv.list<number>({ prefix })) {
        // a retired secret stays recorded: forgetting it would let the old secret work again
        if (prefix === "secret:") continue;
        if (until <= now) this.kv.delete(key);
        else next = Math.min(next ?? until, until);
      }
    }
    return next;
  }
}
