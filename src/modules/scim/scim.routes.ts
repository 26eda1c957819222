import { OpenAPIHono } from "@hono/zod-openapi";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { scimBulkRoutes } from "./scim.bulk.routes";
import { scimDiscoveryRoutes } from "./scim.discovery.routes";
import { scimGroupsRoutes } from "./scim.groups.routes";
import { scimUsersRoutes } from "./scim.users.routes";

/** /scim/v2 (RFC 7643, RFC 7644). Errors are SCIM error bodies: app.ts sends this path's errors to scimOnError. */
export const scimRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .route("/", scimUsersRoutes)
  .route("/", scimGroupsRoutes)
  .route("/", scimBulkRoutes)
  .route("/", scimDiscoveryRoutes);
