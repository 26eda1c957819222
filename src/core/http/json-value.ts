import { z } from "@hono/zod-openapi";

/**
 * Any JSON value, in a request body. The body was parsed as JSON, so every value in it already is one: this
 * checks nothing at run time (a recursive `z.json()` would walk every value again, and the OpenAPI generator
 * recurses forever on it) and only tells the document what the value may be.
 */
export const JsonValueSchema = z.unknown().openapi({
  type: ["string", "number", "boolean", "null", "array", "object"],
  description: "Any JSON value.",
});
