import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { declaredErrorCodes, problemType } from "./core/errors";
import { problemResponses } from "./core/http/problem-schema";
import { PUBLIC_DOCUMENT_MAX_AGE_SECONDS, publicCache } from "./core/http/public-cache";
import { defineRoute } from "./core/http/route";
import type { AppEnv } from "./env";
import { BulkOperationSchema } from "./modules/users/users.bulk";

export const API_VERSION = "1.0.0";

type OpenApiConfig = Parameters<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>[0];

const documentRoute = defineRoute({
  method: "get",
  path: "/v1/openapi.json",
  tags: ["System"],
  summary: "This OpenAPI 3.1 document",
  credential: "none",
  publicDocument: true,
  cache: publicCache(PUBLIC_DOCUMENT_MAX_AGE_SECONDS),
  responses: {
    200: {
      description: "The OpenAPI 3.1 document of this API",
      content: {
        "application/json": {
          schema: z
            .record(z.string(), z.unknown())
            .openapi({ example: { openapi: "3.1.0", info: { title: "User Ops Manager API", version: API_VERSION } } }),
        },
      },
    },
  },
});

// OpenAPI 3.1 §4.8.4: an SPDX `identifier` (the generator's config type only knows 3.0's `url`).
const LICENSE = { name: "Proprietary", identifier: "LicenseRef-Proprietary" };

function documentConfig(origin: string): OpenApiConfig {
  return {
    openapi: "3.1.0",
    info: {
      title: "User Ops Manager API",
      version: API_VERSION,
      description: [
        "Multi-tenant user management at the edge. Errors are `application/problem+json` (RFC 9457).",
        "Every POST accepts an `Idempotency-Key` header: the same key and body within 24 h replays the first response.",
        "On any route open to tenant credentials, `Uom-Account: <tenant id>` acts on a sub-account of the credential's " +
          "tenant (with `sub-accounts:act`, or roles scoped to it); any other id is 404 `ACCOUNT_NOT_FOUND`.",
        "Versions: the major version is in the path (`/v1`). Responses take the shape of a dated version: the " +
          "`Uom-Version` request header, else the API key's pinned version, else the latest; every authenticated " +
          "response names it in `Uom-Version`. This document describes the latest; GET /v1/versions lists the " +
          "versions, what each changed, and the deprecated routes, which answer with `Deprecation` (RFC 9745), " +
          '`Sunset` (RFC 8594) and `Link` (`rel="successor-version"`, `rel="deprecation"`).',
        "",
        "Problem codes:",
        ...[...declaredErrorCodes()].map(
          ([code, def]) => `- \`${code}\` (${def.status}, \`${problemType(code)}\`): ${def.title}`,
        ),
      ].join("\n"),
      license: LICENSE,
    },
    servers: [{ url: origin, description: "This deployment" }],
    tags: [
      {
        name: "Tenants",
        description: "Tenants and their databases (admin token); a tenant's sub-accounts (tenant credentials)",
      },
      { name: "Users", description: "A tenant's users" },
      { name: "Activity", description: "Logins and the product activity a tenant sends for its users" },
      { name: "Reports", description: "Scheduled reports: schedules, runs and their artefacts" },
      { name: "Schema", description: "Custom fields: definitions, validation, indexes, schema changes" },
      { name: "MFA", description: "A user's second factor: TOTP and recovery codes" },
      { name: "API keys", description: "A tenant's API keys: create, rotate, revoke" },
      {
        name: "Roles",
        description:
          "Roles and the permission catalogue: built-in and custom roles, role assignment, effective permissions",
      },
      { name: "Security", description: "The tenant's security policy: passwords, second factor, CORS origins" },
      { name: "OAuth", description: "OAuth 2 clients, token endpoints (RFC 6749, 7662, 7009), signing keys, metadata" },
      { name: "Audit", description: "The tamper-evident audit trail" },
      { name: "Events", description: "The domain event log the EVENTS queue carries (docs/events.md)" },
      {
        name: "Usage",
        description: "Usage analytics: requests by route, credential and status, with latency (docs/usage.md)",
      },
      {
        name: "Rate limits",
        description:
          "Each credential's rate limit: policies within the plan's bounds, campaign boosts (docs/rate-limits.md)",
      },
      {
        name: "Webhooks",
        description:
          "Endpoints that receive the tenant's events, signed per Standard Webhooks; delivery log, retry, replay (docs/webhooks.md)",
      },
      {
        name: "Plans",
        description: "The tenant's plan: features, quotas and their usage; asking for another plan (docs/plans.md)",
      },
      {
        name: "SCIM",
        description:
          "SCIM 2.0 (RFC 7643/7644) for provisioning clients such as Okta and Entra ID: an API key with the " +
          "`scim` role; `application/scim+json`; errors are SCIM error bodies (RFC 7644 §3.12), not problem+json",
      },
      {
        name: "Plugins",
        description: "Compile-time plugins enabled per tenant, and the routes they mount (docs/plugins.md)",
      },
      {
        name: "Actions",
        description: "HTTP actions: a tenant's URLs called as blocking before-hooks (docs/actions.md)",
      },
      {
        name: "Notifications",
        description:
          "Email, SMS and Web Push to a tenant's users: templates, channels, settings, the log, preferences and " +
          "unsubscribe links (docs/notifications.md)",
      },
      {
        name: "Insights",
        description:
          "How the user base behaves: totals, sign-ups, DAU/WAU/MAU and stickiness, distributions, churn rate, weekly " +
          "retention cohorts (docs/insights.md)",
      },
      {
        name: "Segments",
        description:
          "Saved segments (a name and a users filter) and learned ones (k-means over behaviour; docs/segments.md)",
      },
      {
        name: "Churn",
        description:
          "Churn prediction: the tenant's model and its holdout evaluation, users' churn risks with factors and a " +
          "suggested action (docs/churn.md)",
      },
      {
        name: "Versions",
        description: "Dated API versions (`Uom-Version`), what each changed, and deprecations (docs/versioning.md)",
      },
      { name: "System", description: "Health, documentation" },
    ],
  };
}

/**
 * Registers the document's shared parts and serves it at /v1/openapi.json (OpenAPI 3.1). The document is
 * built once per origin and isolate. A failure to build it (an unnamed recursive schema, say) is thrown to
 * `onError`, so it is logged and answered as a problem, not swallowed as `{}` the way `doc31()` does.
 */
export function mountOpenApi(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description:
      "A tenant API key (`uom_sk_…`), an OAuth access token (ES256 JWT from /oauth/token) or, for /v1/tenants, " +
      "the platform admin token.",
  });
  app.openAPIRegistry.register("BulkOperation", BulkOperationSchema);
  // /docs is served by the system routes with a plain handler; list it so the document names every route.
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    operationId: "getDocs",
    security: [],
    tags: ["System"],
    summary: "Interactive API reference (HTML)",
    responses: {
      ...problemResponses([500]),
      200: {
        description: "An HTML page rendering this document",
        content: { "text/html": { schema: { type: "string" }, example: "<!doctype html>…" } },
      },
    },
  });

  const documents = new Map<string, ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>>();
  app.openapi(documentRoute, (c) => {
    const origin = new URL(c.req.url).origin;
    let document = documents.get(origin);
    if (!document) {
      document = app.getOpenAPI31Document(documentConfig(origin));
      if (documents.size < 16) documents.set(origin, document);
    }
    return c.json(document as unknown as Record<string, unknown>, 200);
  });
}
