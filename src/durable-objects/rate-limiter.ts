import { DurableObject } from "cloudflare:workers";

/**
 * One object per rate-limit key (SQLite-backed): token bucket / sliding window state. Its logic arrives
 * with the Traffic control issue; the class and binding exist from the first deployment so the shape and the
 * Durable Object migration tag are fixed.
 */
export class RateLimiter extends DurableObject<Env> {}
