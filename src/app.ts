import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { ApiError, CoreErrors } from "./core/errors";
import { notFoundHandler, onError } from "./core/http/error-handler";
import { requestId } from "./core/http/request-id";
import { requestLog } from "./core/http/request-log";
import { validationHook } from "./core/http/validation";
import type { AppEnv } from "./env";
import { auditRoutes } from "./modules/audit/audit.routes";
import { mfaRoutes } from "./modules/mfa/mfa.routes";
import { passwordsRoutes } from "./modules/passwords/passwords.routes";
import { systemRoutes } from "./modules/system/system.routes";
import { tenantsRoutes } from "./modules/tenants/tenants.routes";
import { usersRoutes } from "./modules/users/users.routes";
import { mountOpenApi } from "./openapi";

const MB = 1024 * 1024;

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
  const bulkLimit = sizeLimit(5 * MB);
  const defaultLimit = sizeLimit(MB);
  app.use("*", (c, next) => (c.req.path === "/v1/users/bulk" ? bulkLimit : defaultLimit)(c, next));

  app.route("/", systemRoutes);
  app.route("/", tenantsRoutes);
  app.route("/", usersRoutes);
  app.route("/", mfaRoutes);
  app.route("/", passwordsRoutes);
  app.route("/", auditRoutes);
  mountOpenApi(app);

  app.onError(onError);
  app.notFound(notFoundHandler(app));
  return app;
}

export const app = buildApp();
