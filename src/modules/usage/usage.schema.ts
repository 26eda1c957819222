import { z } from "@hono/zod-openapi";

const Timestamp = z.iso.datetime({ offset: true, error: "An RFC 3339 date-time, such as 2026-01-01T00:00:00Z." });

export const UsageQuerySchema = z.object({
  from: Timestamp.optional().openapi({
    description: "Start (inclusive, by the hour). Default: 24 hours before `to` (30 days with granularity=day).",
  }),
  to: Timestamp.optional().openapi({ description: "End (exclusive, by the hour). Default: now." }),
  granularity: z.enum(["hour", "day"]).default("hour").openapi({ description: "The series' step (UTC)." }),
  groupBy: z
    .enum(["endpoint", "apiKey", "status"])
    .optional()
    .openapi({
      description:
        "Split each step by route (`GET /v1/users/{id}`), by credential (an API key's id, `client:<id>` for an " +
        "OAuth client, `user` for end users' tokens) or by status class (`2xx` … `5xx`).",
    }),
});

const LatencySchema = z.object({
  mean: z.number().nullable(),
  p50: z.number().nullable().openapi({ description: "Interpolated within a histogram bucket (docs/usage.md)." }),
  p95: z.number().nullable(),
});

const StatsShape = {
  requests: z.number().int(),
  errors: z.number().int().openapi({ description: "Responses with status 400 or more." }),
  serverErrors: z.number().int().openapi({ description: "Responses with status 500 or more." }),
  errorRate: z.number().openapi({ description: "errors / requests, 0 when there were none." }),
  latencyMs: LatencySchema,
};

export const UsageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    granularity: z.enum(["hour", "day"]),
    groupBy: z.enum(["endpoint", "apiKey", "status"]).nullable(),
    totals: z.object(StatsShape),
    series: z.array(
      z.object({
        start: z.string().openapi({ description: "The step's start (UTC)." }),
        group: z.string().optional(),
        ...StatsShape,
      }),
    ),
    topEndpoints: z
      .array(z.object({ method: z.string(), route: z.string(), ...StatsShape }))
      .openapi({ description: "The ten routes with the most requests over the whole range." }),
  })
  .openapi("UsageReport", {
    example: {
      from: "2026-11-27T00:00:00.000Z",
      to: "2026-11-28T00:00:00.000Z",
      granularity: "day",
      groupBy: "status",
      totals: {
        requests: 1250,
        errors: 25,
        serverErrors: 1,
        errorRate: 0.02,
        latencyMs: { mean: 18.4, p50: 9.2, p95: 61.5 },
      },
      series: [
        {
          start: "2026-11-27T00:00:00.000Z",
          group: "2xx",
          requests: 1225,
          errors: 0,
          serverErrors: 0,
          errorRate: 0,
          latencyMs: { mean: 18.1, p50: 9.1, p95: 60.2 },
        },
      ],
      topEndpoints: [
        {
          method: "GET",
          route: "/v1/users/{id}",
          requests: 800,
          errors: 12,
          serverErrors: 0,
          errorRate: 0.02,
          latencyMs: { mean: 12.3, p50: 8.4, p95: 40.1 },
        },
      ],
    },
  });

export type UsageQuery = z.infer<typeof UsageQuerySchema>;

export const DeprecatedCallsQuerySchema = z.object({
  from: Timestamp.optional().openapi({
    description: "Start (inclusive, by the hour). Default: 90 days before `to`, all that is kept.",
  }),
  to: Timestamp.optional().openapi({ description: "End (exclusive, by the hour). Default: now." }),
});
export type DeprecatedCallsQuery = z.infer<typeof DeprecatedCallsQuerySchema>;

export const DeprecatedCallsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    data: z.array(
      z.object({
        method: z.string(),
        path: z.string().openapi({ description: "The deprecated route's template." }),
        credential: z.string().openapi({
          description: "An API key's id, `client:<id>` for an OAuth client, `user` for end users' tokens.",
        }),
        requests: z.number().int().openapi({ description: "Calls in the range, whatever their status." }),
        firstSeen: z.string().openapi({ description: "The start of the first hour (UTC) with a call." }),
        lastSeen: z.string().openapi({ description: "The start of the last hour (UTC) with a call." }),
        deprecatedAt: z.string(),
        sunset: z.string().openapi({ description: "After this it may stop working (RFC 3339)." }),
        successor: z.string().openapi({ description: "The route to call instead." }),
      }),
    ),
  })
  .openapi("DeprecatedCalls", {
    example: {
      from: "2026-08-30T12:00:00.000Z",
      to: "2026-11-28T12:00:00.000Z",
      data: [
        {
          method: "POST",
          path: "/v1/users/{id}/undelete",
          credential: "key_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
          requests: 42,
          firstSeen: "2026-11-02T09:00:00.000Z",
          lastSeen: "2026-11-28T11:00:00.000Z",
          deprecatedAt: "2026-11-01T00:00:00Z",
          sunset: "2027-06-30T00:00:00Z",
          successor: "POST /v1/users/{id}/restore",
        },
      ],
    },
  });
