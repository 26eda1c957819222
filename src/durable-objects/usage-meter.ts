import { DurableObject } from "cloudflare:workers";

/**
 * One object per tenant (SQLite-backed): request counts, status classes and latency per endpoint per hour.
 * Its logic arrives with the Traffic control issue; declared now for the same reason as RateLimiter.
 */
export class UsageMeter extends DurableObject<Env> {}
