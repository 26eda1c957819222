/**
 * The Durable Object that holds a credential's must-be-immediate state (see durable-objects/credential-state.ts).
 * Names: `key:<apiKeyId>`, `client:<oauthClientId>`, `user:<tenantId>:<userId>`.
 */
export type GuardName = `key:${string}` | `client:${string}` | `user:${string}:${string}`;

export function credentialGuard(env: Env, name: GuardName) {
  return rateLimiterObject(env, name);
}

/** A `RATE_LIMITER` object by name: a credential's guard, a brute-force throttle (throttle.ts), an address's bucket. */
export function rateLimiterObject(env: Env, name: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name));
}
