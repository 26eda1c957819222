import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { clientAddress, ipBucket } from "../http/client-address";
import type { RateDecision } from "./bucket";
import { rateLimited, rateLimitHeaders } from "./headers";
import { takeForAddress, trafficControlOff } from "./limiter";
import { ipPolicy } from "./policy";

/**
 * Puts a request's RateLimit fields on its response — set through c before the handler runs, so problem responses
 * carry them too — and refuses it (429) when its bucket is empty. Returns what `stampRateLimit` needs afterwards.
 */
export function announceRateLimit(c: Context<AppEnv>, rate: RateDecision | undefined): Record<string, string> {
  if (!rate) return {};
  const headers = rateLimitHeaders(rate);
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  if (!rate.allowed) throw rateLimited(rate);
  return headers;
}

/** After the handler: a Response it built itself (a stream, a redirect) did not take the fields set through c. */
export function stampRateLimit(c: Context<AppEnv>, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!c.res.headers.has(name)) c.res.headers.set(name, value);
  }
}

/**
 * The endpoints that take no credential (the token endpoint, where sign-ins happen; public plugin routes; …) are
 * limited per client address (an IPv6 address by its /64), under IP_RATE_LIMIT_BURST / IP_RATE_LIMIT_PER_SECOND.
 * An unknown address (no CF-Connecting-IP: not behind Cloudflare) shares one bucket.
 */
export function clientIpRateLimit(): MiddlewareHandler<AppEnv> {
  return async function clientIpRateLimitMiddleware(c, next) {
    if (trafficControlOff(c.env)) return next();
    const address = clientAddress(c);
    const rate = await takeForAddress(c.env, address ? ipBucket(address) : "unknown", ipPolicy(c.env), (promise) =>
      c.executionCtx.waitUntil(promise),
    );
    const headers = announceRateLimit(c, rate);
    await next();
    stampRateLimit(c, headers);
  };
}
