import type { OpenAPIHono } from "@hono/zod-openapi";
import { declaredErrorCodes, problemType } from "./core/errors";
import type { AppEnv } from "./env";
import { BulkOperationSchema } from "./modules/users/users.bulk";

export const API_VERSION = "1.0.0";

/** Registers the document's shared parts and serves it at /v1/openapi.json (OpenAPI 3.1). */
export function mountOpenApi(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "A tenant API key (`uom_sk_…`) or, for /v1/tenants, the platform admin token.",
  });
  app.openAPIRegistry.register("BulkOperation", BulkOperationSchema);
  app.doc31("/v1/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "User Ops Manager API",
      version: API_VERSION,
      description: [
        "Multi-tenant user management at the edge. Errors are `application/problem+json` (RFC 9457).",
        "Every POST accepts an `Idempotency-Key` header: the same key and body within 24 h replays the first response.",
        "",
        "Problem codes:",
        ...[...declaredErrorCodes()].map(
          ([code, def]) => `- \`${code}\` (${def.status}, \`${problemType(code)}\`): ${def.title}`,
        ),
      ].join("\n"),
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    },
    servers: [{ url: new URL(c.req.url).origin, description: "This deployment" }],
    tags: [
      { name: "Tenants", description: "Platform: tenants and their databases (admin token)" },
      { name: "Users", description: "A tenant's users" },
      { name: "Audit", description: "The tamper-evident audit trail" },
      { name: "System", description: "Health, documentation" },
    ],
  }));
}
