import { OpenAPIHono } from "@hono/zod-openapi";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { oauthClientRoutes } from "./clients.routes";
import { signingKeyRoutes } from "./signing-keys.routes";
import { oauthTokenRoutes } from "./token.routes";
import { wellKnownRoutes } from "./well-known.routes";

/** The OAuth 2 authorization server: client management, the token endpoints, keys and metadata. */
export const oauthRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .route("/", oauthClientRoutes)
  .route("/", signingKeyRoutes)
  .route("/", oauthTokenRoutes)
  .route("/", wellKnownRoutes);
