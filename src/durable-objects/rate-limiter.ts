import { DurableObject } from "cloudflare:workers";
import { type CredentialProbe, CredentialState, type CredentialVerdict } from "./credential-state";

/**
 * One object per credential (`key:<id>`, `client:<id>`, `user:<tenant>:<id>`): the state that must hold at once
 * everywhere — revocation, retired secrets, denied tokens — and, with the Traffic control issue, the credential's
 * rate-limit bucket, so a request costs one call to it for both. SQLite-backed; its keys are listed in
 * docs/storage-schema.md.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly credential = new CredentialState(this.ctx.storage.kv);

  async check(probe: CredentialProbe): Promise<CredentialVerdict> {
    return this.credential.check(probe);
  }

  async revoke(): Promise<void> {
    this.credential.revoke();
  }

  async revokeIssuedBefore(at: number): Promise<void> {
    this.credential.revokeIssuedBefore(at);
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

  override async alarm(): Promise<void> {
    const next = this.credential.purge();
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }

  private async purgeLater(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}
