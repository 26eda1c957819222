import { OpenAPIHono, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { PUBLIC_DOCUMENT_MAX_AGE_SECONDS, publicCache } from "../../core/http/public-cache";
import { defineRoute } from "../../core/http/route";
import type { AppEnv } from "../../env";

const healthRoute = defineRoute({
  method: "get",
  path: "/health",
  tags: ["System"],
  summary: "Liveness",
  credential: "none",
  publicDocument: true,
  responses: {
    200: {
      description: "The service is up",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("ok") }).openapi("Health", { example: { status: "ok" } }),
        },
      },
    },
  },
});

export const systemRoutes = new OpenAPIHono<AppEnv>()
  .openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200))
  .get(
    "/docs",
    publicCache(PUBLIC_DOCUMENT_MAX_AGE_SECONDS),
    Scalar({ url: "/v1/openapi.json", pageTitle: "User Ops Manager API" }),
  );
