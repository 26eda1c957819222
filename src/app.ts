import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { waitUntilOf } from "./core/context";
import { ApiError, CoreErrors } from "./core/errors";
import { sendAfterCommit } from "./core/events/dispatch";
import { sendPlatformAfterCommit } from "./core/events/platform";
import { privateNoCache } from "./core/http/cache-control";
import { tenantCors } from "./core/http/cors";
import { loggableError, notFoundHandler, onError, problemResponse } from "./core/http/error-handler";
import { requestId } from "./core/http/request-id";
import { requestLog } from "./core/http/request-log";
import { validationHook } from "./core/http/validation";
import { pluginRegistry } from "./core/plugins/active";
import { pluginsRoutes } from "./core/plugins/enablement.routes";
import { coreRouteKeys } from "./core/plugins/registry";
import { mountPluginRoutes } from "./core/plugins/routes";
import type { AppEnv } from "./env";
import { actionsRoutes } from "./modules/actions/actions.routes";
import { activityRoutes } from "./modules/activity/activity.routes";
import { apiKeysRoutes } from "./modules/api-keys/api-keys.routes";
import { auditRoutes } from "./modules/audit/audit.routes";
import { churnRoutes } from "./modules/churn/churn.routes";
import { eventsRoutes } from "./modules/events/events.routes";
import { insightsRoutes } from "./modules/insights/insights.routes";
import { mfaRoutes } from "./modules/mfa/mfa.routes";
import { broadcastsRoutes } from "./modules/notifications/broadcasts.routes";
import { channelsRoutes } from "./modules/notifications/channels.routes";
import { notificationsRoutes } from "./modules/notifications/notifications.routes";
import { templatesRoutes } from "./modules/notifications/templates.routes";
import { oauthRoutes } from "./modules/oauth/oauth.routes";
import { passwordsRoutes } from "./modules/passwords/passwords.routes";
import { plansRoutes } from "./modules/plans/plans.routes";
import { rateLimitsRoutes } from "./modules/rate-limits/rate-limits.routes";
import { reportsRoutes } from "./modules/reports/reports.routes";
import { roleAccessRoutes } from "./modules/roles/roles.access.routes";
import { mountPermissionCatalogue, rolesRoutes } from "./modules/roles/roles.routes";
import { fieldsRoutes } from "./modules/schema/fields.routes";
import { BULK_MAX_PAYLOAD_BYTES } from "./modules/scim/scim.discovery";
import { isScimPath, scimErrorResponse, scimOnError } from "./modules/scim/scim.errors";
import { scimRoutes } from "./modules/scim/scim.routes";
import { securityPolicyRoutes } from "./modules/security-policy/security-policy.routes";
import { securityPolicyOf } from "./modules/security-policy/security-policy.service";
import { segmentsRoutes } from "./modules/segments/segments.routes";
import { systemRoutes } from "./modules/system/system.routes";
import { tenantsRoutes } from "./modules/tenants/tenants.routes";
import { usageRoutes } from "./modules/usage/usage.routes";
import { usersRoutes } from "./modules/users/users.routes";
import { versionsRoutes } from "./modules/versions/versions.routes";
import { webhooksRoutes } from "./modules/webhooks/webhooks.routes";
import { mountOpenApi } from "./openapi";

const MB = 1024 * 1024;
const READS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Where a tenant credential writes the control database (its audit trail, so the platform outbox). */
const CONTROL_WRITE_PATHS = ["/v1/tenants", "/v1/plan/"];

function logSendFailure(env: Env, error: unknown): void {
  if (env.LOG_LEVEL === "silent") return;
  console.error(JSON.stringify({ level: "error", msg: "outbox send failed", error: loggableError(error) }));
}

function sizeLimit(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(CoreErrors.PAYLOAD_TOO_LARGE, { detail: `The body may be at most ${maxSize / MB} MB.` });
    },
  });
}

/** The whole HTTP surface: middleware in pipeline order (DESIGN.md), then every module's routes. */
export function buildApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // nosniff, HSTS, frame and referrer policies on every response (hono defaults; no CSP, which /docs would need)
  app.use("*", requestId(), requestLog(), secureHeaders());
  app.use(
    "*",
    tenantCors({
      allowedOrigins: async (env, tenantId) => (await securityPolicyOf(env, tenantId)).cors.allowedOrigins,
      isPublic: (path) =>
        path === "/health" ||
        path === "/v1/openapi.json" ||
        path === "/v1/versions" ||
        path.startsWith("/.well-known/"),
    }),
  );
  // user data is revalidated before each use (ETag / If-None-Match) and never kept by shared caches
  for (const path of ["/v1/users", "/v1/users/*", "/v1/me"]) app.use(path, privateNoCache());
  const bulkLimit = sizeLimit(5 * MB);
  // RFC 7644 §3.7.4: the advertised maxPayloadSize, answered 413
  const scimBulkLimit = sizeLimit(BULK_MAX_PAYLOAD_BYTES);
  const defaultLimit = sizeLimit(MB);
  app.use("*", (c, next) => {
    if (c.req.path === "/v1/users/bulk") return bulkLimit(c, next);
    if (c.req.path === "/scim/v2/Bulk") return scimBulkLimit(c, next);
    return defaultLimit(c, next);
  });
  // after a tenant's successful write, its outbox events go to the EVENTS queue once the response is out
  // (docs/events.md); so do the platform outbox's after a write to the control database (the admin token's, a
  // tenant's sub-accounts and plan change requests); a refused request changed nothing, so costs no claim; anything
  // else (a failed send, a write without a credential such as the token endpoint's) is left to the per-minute sweeper
  app.use("*", async (c, next) => {
    await next();
    const auth = c.get("auth");
    if (READS.has(c.req.method) || !auth || c.res.status >= 400) return;
    if (auth.kind === "tenant") {
      waitUntilOf(c)(sendAfterCommit(c.env, auth.tenant).catch((error) => logSendFailure(c.env, error)));
    }
    if (auth.kind === "admin" || CONTROL_WRITE_PATHS.some((prefix) => c.req.path.startsWith(prefix))) {
      waitUntilOf(c)(sendPlatformAfterCommit(c.env).catch((error) => logSendFailure(c.env, error)));
    }
  });

  app.route("/", systemRoutes);
  app.route("/", versionsRoutes);
  app.route("/", tenantsRoutes);
  app.route("/", usersRoutes);
  app.route("/", activityRoutes);
  app.route("/", segmentsRoutes);
  app.route("/", churnRoutes);
  app.route("/", insightsRoutes);
  app.route("/", fieldsRoutes);
  app.route("/", mfaRoutes);
  app.route("/", passwordsRoutes);
  app.route("/", securityPolicyRoutes);
  app.route("/", auditRoutes);
  app.route("/", eventsRoutes);
  app.route("/", webhooksRoutes);
  app.route("/", plansRoutes);
  app.route("/", usageRoutes);
  app.route("/", rateLimitsRoutes);
  app.route("/", apiKeysRoutes);
  app.route("/", oauthRoutes);
  app.route("/", rolesRoutes);
  app.route("/", roleAccessRoutes);
  mountPermissionCatalogue(app);
  app.route("/", scimRoutes);
  app.route("/", pluginsRoutes);
  app.route("/", actionsRoutes);
  // plugins last: their routes are checked against every core route first (a conflict stops the worker loading)
  mountPluginRoutes(app, pluginRegistry().withCoreRoutes(coreRouteKeys(app.openAPIRegistry.definitions)));
  app.route("/", templatesRoutes);
  app.route("/", channelsRoutes);
  app.route("/", broadcastsRoutes);
  app.route("/", notificationsRoutes);
  app.route("/", reportsRoutes);
  mountOpenApi(app);

  // SCIM clients parse RFC 7644 §3.12 error bodies, not problem+json: /scim/v2 answers those, every error alike
  app.onError((error, c) => (isScimPath(c.req.path) ? scimOnError(error, c) : onError(error, c)));
  app.notFound(
    notFoundHandler(app, (c, error) =>
      isScimPath(c.req.path) ? scimErrorResponse(c, error) : problemResponse(c, error),
    ),
  );
  return app;
}

export const app = buildApp();
