import { z } from "@hono/zod-openapi";

export const FieldErrorSchema = z
  .object({
    field: z.string().openapi({ example: "email" }),
    code: z.string().openapi({ example: "invalid_format" }),
    detail: z.string().openapi({ example: "Invalid email address" }),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:uom:problem:validation-failed" }),
    title: z.string().openapi({ example: "The request is not valid" }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: "1 field is not valid." }),
    code: z.string().openapi({ example: "VALIDATION_FAILED" }),
    requestId: z.string().openapi({ example: "req_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    errors: z.array(FieldErrorSchema.or(z.record(z.string(), z.unknown()))).optional(),
  })
  .catchall(z.unknown())
  .openapi("Problem", { description: "RFC 9457 problem details" });

const EXAMPLES: Record<number, { code: string; title: string; detail: string }> = {
  400: { code: "VALIDATION_FAILED", title: "The request is not valid", detail: "1 field is not valid." },
  401: { code: "UNAUTHENTICATED", title: "Authentication required", detail: "Send a credential." },
  403: { code: "FORBIDDEN", title: "Not allowed", detail: "This credential may not do this." },
  404: { code: "NOT_FOUND", title: "Not found", detail: "No such resource." },
  409: { code: "CONFLICT", title: "Conflict", detail: "The resource conflicts with another." },
  412: {
    code: "PRECONDITION_FAILED",
    title: "The resource changed since the given ETag",
    detail: "If-Match does not match.",
  },
  413: { code: "PAYLOAD_TOO_LARGE", title: "The request body is too large", detail: "At most 1 MB." },
  415: { code: "UNSUPPORTED_MEDIA_TYPE", title: "Unsupported media type", detail: "Send application/json." },
  422: { code: "BULK_ATOMIC_FAILED", title: "Nothing was committed", detail: "1 operation is not valid." },
  429: {
    code: "RATE_LIMITED",
    title: "Too many requests",
    detail:
      "The tenant rate limit admits 200 requests at once and 50 per second after that (token-bucket); retry in 1 s.",
  },
  500: { code: "INTERNAL", title: "Internal server error", detail: "Something went wrong on our side." },
  503: { code: "SERVICE_UNAVAILABLE", title: "Service unavailable", detail: "Try again later." },
};

const DESCRIPTIONS: Record<number, string> = {
  400: "Bad request: validation failed, malformed JSON or an invalid query",
  401: "No credential, or one that is malformed, unknown, revoked or expired",
  403: "The credential may not do this",
  404: "Not found (another tenant's resources are always not found)",
  409: "Conflict",
  412: "If-Match did not match the current ETag",
  413: "Body over the size limit, or too many items",
  415: "Unsupported Content-Type",
  422: "An atomic operation was refused as a whole",
  429: "Over the rate limit (RateLimit-Policy, RateLimit and Retry-After say which, and when to retry)",
  500: "Unexpected error",
  503: "Temporarily unavailable",
};

/** OpenAPI responses for problem statuses, each with an example. */
export function problemResponses(statuses: readonly number[]) {
  return Object.fromEntries(
    statuses.map((status) => {
      const example = EXAMPLES[status] ?? { code: "ERROR", title: "Error", detail: "Error" };
      return [
        status,
        {
          description: DESCRIPTIONS[status] ?? "Error",
          content: {
            "application/problem+json": {
              schema: ProblemSchema,
              example: {
                type: `urn:uom:problem:${example.code.toLowerCase().replaceAll("_", "-")}`,
                title: example.title,
                status,
                detail: example.detail,
                code: example.code,
                requestId: "req_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
              },
            },
          },
        },
      ];
    }),
  );
}
