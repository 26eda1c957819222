import { z } from "@hono/zod-openapi";
import {
  MAX_BOOST_HOURS,
  MAX_BOOST_MULTIPLIER,
  MIN_RATE_PER_SECOND,
  RATE_LIMIT_ALGORITHMS,
} from "../../core/rate-limit/policy";

const Algorithm = z.enum(RATE_LIMIT_ALGORITHMS).openapi({
  description:
    "`token-bucket`: `burst` requests at once, refilled at `ratePerSecond`. `sliding-window`: at most `burst` " +
    "requests in any window of burst / ratePerSecond seconds.",
});
const Scope = z.enum(["tenant", "apiKey"]).default("tenant").openapi({
  description: "`tenant`: the policy of each of the tenant's credentials; `apiKey`: one key's own (needs apiKeyId).",
});
const Limits = z.object({ burst: z.number().int(), ratePerSecond: z.number() });

export const RateLimitScopeQuerySchema = z.object({
  scope: Scope,
  apiKeyId: z.string().optional().openapi({ description: "With scope=apiKey: the key." }),
});

export const PutRateLimitSchema = z
  .object({
    scope: Scope,
    apiKeyId: z.string().optional(),
    algorithm: Algorithm.default("token-bucket"),
    burst: z.number().int().min(1).openapi({ description: "At most the plan's `bounds.max.burst`." }),
    ratePerSecond: z
      .number()
      .min(MIN_RATE_PER_SECOND)
      .openapi({ description: "At most the plan's `bounds.max.ratePerSecond`; fractions allowed (0.5: one per 2 s)." }),
  })
  .openapi("RateLimitInput", {
    example: {
      scope: "apiKey",
      apiKeyId: "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
      algorithm: "token-bucket",
      burst: 50,
      ratePerSecond: 10,
    },
  });
export type PutRateLimitInput = z.infer<typeof PutRateLimitSchema>;

const BoostViewSchema = z
  .object({ multiplier: z.number(), startsAt: z.string(), endsAt: z.string() })
  .openapi("RateLimitBoost");

export const RateLimitViewSchema = z
  .object({
    scope: z.enum(["tenant", "apiKey"]),
    apiKeyId: z.string().nullable(),
    algorithm: Algorithm,
    burst: z.number().int(),
    ratePerSecond: z.number(),
    source: z.enum(["plan", "tenant", "apiKey"]).openapi({
      description: "Where these values come from: set at this scope, inherited from the tenant, or the plan's default.",
    }),
    effective: z.object({ algorithm: Algorithm, burst: z.number().int(), ratePerSecond: z.number() }).openapi({
      description:
        "What requests are checked against now: the values within the plan's maximum, times a running boost.",
    }),
    bounds: z.object({ default: Limits, max: Limits }),
    boost: BoostViewSchema.nullable(),
  })
  .openapi("RateLimit", {
    example: {
      scope: "tenant",
      apiKeyId: null,
      algorithm: "token-bucket",
      burst: 500,
      ratePerSecond: 100,
      source: "tenant",
      effective: { algorithm: "token-bucket", burst: 1500, ratePerSecond: 300 },
      bounds: { default: { burst: 1000, ratePerSecond: 200 }, max: { burst: 4000, ratePerSecond: 1000 } },
      boost: { multiplier: 3, startsAt: "2026-11-27T09:00:00.000Z", endsAt: "2026-11-29T09:00:00.000Z" },
    },
  });
export type RateLimitView = z.infer<typeof RateLimitViewSchema>;

export const StartBoostSchema = z
  .object({
    multiplier: z.number().gt(1).max(MAX_BOOST_MULTIPLIER).default(3),
    hours: z.number().int().min(1).max(MAX_BOOST_HOURS).default(48),
  })
  .openapi("RateLimitBoostInput", { example: { multiplier: 3, hours: 48 } });
export type StartBoostInput = z.infer<typeof StartBoostSchema>;
export { BoostViewSchema };
