import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { serviceContext } from "../../core/context";
import { ProblemSchema } from "../../core/http/problem-schema";
import { defineRoute } from "../../core/http/route";
import type { AppEnv } from "../../env";
import { BULK_MAX_OPERATIONS, bulk } from "./users.bulk";

const BulkRequestSchema = z
  .strictObject({
    // items are validated one by one, so an invalid item fails alone (unless atomic)
    operations: z
      .array(z.unknown())
      .min(1)
      .openapi({
        description: `Up to ${BULK_MAX_OPERATIONS} operations (more → 413).`,
        items: { $ref: "#/components/schemas/BulkOperation" },
      }),
    atomic: z.boolean().default(false).openapi({ description: "All or nothing (one D1 batch)." }),
  })
  .openapi("BulkRequest", {
    example: {
      operations: [
        { op: "create", data: { email: "grace@example.com", name: "Grace Hopper" } },
        { op: "update", id: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", data: { attributes: { plan: "team" } } },
        { op: "delete", id: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9B" },
      ],
      atomic: false,
    },
  });

const BulkResultSchema = z
  .object({
    results: z.array(
      z.object({
        index: z.number().int(),
        status: z.number().int().openapi({ description: "The HTTP status this item would have had on its own." }),
        id: z.string().optional(),
        error: ProblemSchema.optional(),
      }),
    ),
  })
  .openapi("BulkResult");

export const bulkRoute = defineRoute({
  method: "post",
  path: "/v1/users/bulk",
  tags: ["Users"],
  summary: "Create, update, delete and restore users in bulk",
  description:
    "Per-item results in request order. Non-atomic (default): every valid item is committed and every invalid one reported. " +
    "`atomic: true`: all or nothing; any invalid item → 422 `BULK_ATOMIC_FAILED` listing them.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "users",
  errors: [422],
  request: { body: { required: true, content: { "application/json": { schema: BulkRequestSchema } } } },
  responses: {
    200: { description: "Per-item results", content: { "application/json": { schema: BulkResultSchema } } },
  },
});

export async function runBulk(
  c: Context<AppEnv, "/v1/users/bulk", { out: { json: z.infer<typeof BulkRequestSchema> } }>,
) {
  const { operations, atomic } = c.req.valid("json");
  const { results } = await bulk(await serviceContext(c), operations, atomic);
  return c.json({ results }, 200);
}
