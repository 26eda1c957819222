import { DurableObject } from "cloudflare:workers";
import { RateBucket, type RateDecision } from "../core/rate-limit/bucket";
import type { AppliedPolicy } from "../core/rate-limit/policy";
import { type CredentialProbe, CredentialState, type CredentialVerdict } from "./credential-state";
import { flushIntervalMs, LastUse, writeLastUse } from "./last-used";
import { type AttemptVerdict, LoginThrottle, THROTTLE_POLICIES, type ThrottleKind } from "./login-throttle";

/**
 * One object per credential (`key:<id>`, `client:<id>`, `user:<tenant>:<id>`): the state that must hold at once
 * everywhere — revocation, retired secrets, denied tokens — and the credential's rate-limit bucket, so a request
 * costs one call to it for both. Objects `ip-rate:<address>` hold only a bucket (the endpoints that take no
 * credential). SQLite-backed; its keys are listed in docs/storage-schema.md.
 */
/** At most this often a busy bucket is written to storage (core/rate-limit/bucket.ts). */
const BUCKET_PERSIST_MS = 1_000;

export class RateLimiter extends DurableObject<Env> {
  private readonly credential = new CredentialState(this.ctx.storage.kv);
  private readonly throttle = new LoginThrottle(this.ctx.storage.kv);
  private readonly lastUse = new LastUse(this.ctx.storage.kv);
  private readonly bucket = new RateBucket(this.ctx.storage.kv, BUCKET_PERSIST_MS);

  /**
   * Is the credential still good, and (given `limit`) may this request pass its rate limit? A refused credential
   * takes nothing from the bucket.
   */
  async check(probe: CredentialProbe, limit?: AppliedPolicy): Promise<CredentialVerdict & { rate?: RateDecision }> {
    const verdict = this.credential.check(probe);
    if (!verdict.ok) return verdict;
    if (probe.touch) {
      const flushAt = this.lastUse.touch(probe.touch, Date.now(), flushIntervalMs(this.env));
      if (flushAt !== undefined) await this.purgeLater(flushAt);
    }
    return limit ? { ...verdict, rate: await this.take(limit) } : verdict;
  }

  /** One request against this object's bucket. */
  async take(limit: AppliedPolicy): Promise<RateDecision> {
    const { decision, purgeAt, flushAt } = this.bucket.take(limit);
    const wake = Math.min(purgeAt ?? Number.POSITIVE_INFINITY, flushAt ?? Number.POSITIVE_INFINITY);
    if (wake !== Number.POSITIVE_INFINITY) await this.purgeLater(wake);
    return decision;
  }

  async revoke(): Promise<void> {
    this.credential.revoke();
  }

  async revokeIssuedBefore(at: number): Promise<void> {
    this.credential.revokeIssuedBefore(at);
  }

  async revokeAccessTokensIssuedBefore(at: number): Promise<void> {
    this.credential.revokeAccessTokensIssuedBefore(at);
  }

  async retireSecret(secretHash: string, notAfter: number): Promise<void> {
    this.credential.retireSecret(secretHash, notAfter);
  }

  async denyToken(jti: string, until: number): Promise<void> {
    this.credential.denyToken(jti, until);
    await this.purgeLater(until);
  }

  async revokeSession(sid: string, until: number): Promise<void> {
    this.credential.revokeSession(sid, until);
    await this.purgeLater(until);
  }

  /** Brute-force throttling of logins and second-factor codes (objects `login:…`, `ip:…`, `mfa:…`). */
  async throttleBegin(kind: ThrottleKind): Promise<AttemptVerdict> {
    const verdict = this.throttle.begin(THROTTLE_POLICIES[kind]);
    if (verdict.allowed) await this.purgeLater(verdict.forgetAt);
    return verdict;
  }

  async throttleReset(): Promise<void> {
    this.throttle.reset();
  }

  async throttleRelease(lockedUntilSet: number | null): Promise<void> {
    this.throttle.release(lockedUntilSet);
  }

  override async alarm(): Promise<void> {
    const use = this.lastUse.take();
    if (use) await writeLastUse(this.env, use);
    const next = [this.credential.purge(), this.throttle.purge(), this.bucket.purge(), this.lastUse.due()].filter(
      (t) => t !== undefined,
    );
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  private async purgeLater(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}
