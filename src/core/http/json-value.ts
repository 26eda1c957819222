import { z } from "@hono/zod-openapi";

/**
 * Any JSON value. Use this instead of a bare `z.json()`: that schema is recursive (a `z.lazy`), and the
 * OpenAPI generator recurses forever on it, so one bare `z.json()` anywhere makes GET /v1/openapi.json fail.
 * The explicit OpenAPI type list stands in for the recursion in the document.
 */
export const JsonValueSchema = z.json().openapi({
  type: ["string", "number", "boolean", "null", "array", "object"],
  description: "Any JSON value.",
});
