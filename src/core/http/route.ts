import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { deprecated, deprecatedCallNotice, documentDeprecation } from "../../modules/versions/deprecations";
import { apiVersion, versionedRepresentation } from "../../modules/versions/versions.middleware";
import { deprecationOf, isVersionedRoute, routeKeyOf } from "../../modules/versions/versions.registry";
import { VersionHeaderSchema } from "../../modules/versions/versions.schema";
import { type CredentialKind, requireCredential } from "../auth/middleware";
import type { Permission } from "../auth/permissions";
import type { Feature } from "../plans";
import { clientIpRateLimit } from "../rate-limit/middleware";
import { usageAnalytics } from "../usage/analytics";
import { monthlyRequests } from "../usage/monthly-requests";
import { idempotency } from "./idempotency";
import { problemResponses } from "./problem-schema";

export type RouteCredential = readonly CredentialKind[] | "none";

type DefineRouteConfig = Omit<RouteConfig, "middleware" | "security"> & {
  /** Who may call it. Every credentialed route is covered by test/security/every-route.isolated.test.ts. */
  credential: RouteCredential;
  /** The permission a tenant credential needs; required on every route a tenant credential may call. */
  permission?: Permission;
  /** The plan feature of a route a tenant credential may call (`x-plan-feature`); required on every such route. */
  feature?: Feature;
  /** The path parameter naming a user whose own access token may call the route without the permission. */
  self?: string;
  /**
   * A public document (health, the OpenAPI document, JWKS): not limited per client address like the other routes
   * that take no credential (core/rate-limit/middleware.ts).
   */
  publicDocument?: true;
  /** A public document's Cache API middleware (core/http/public-cache.ts `publicCache`). */
  cache?: MiddlewareHandler<AppEnv>;
  /** Problem statuses this route answers besides the ones every route of its kind can answer. */
  errors?: readonly number[];
};

export const BEARER_SECURITY = [{ bearerAuth: [] }];

// Documented here; checked and acted on by the idempotency middleware (which runs before validation).
const IdempotencyKeyHeader = z
  .string()
  .optional()
  .openapi({
    description:
      "1–255 visible ASCII characters. The same key and body within 24 h replays the first response " +
      "(`Idempotent-Replayed: true`); the same key with another body is 409 IDEMPOTENCY_KEY_REUSED.",
    example: "3f2b9c1e-7d4a-4e8b-9a61-0c5d2e7f8a90",
  });

/** A stable operationId from method and path, for routes that name none: `GET /v1/users/{id}` → `getV1UsersById`. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .split("/")
    .filter(Boolean)
    .flatMap((segment) => {
      const param = /^\{(.+)\}$/.exec(segment)?.[1];
      const parts = (param ?? segment).split(/[^A-Za-z0-9]+/).filter(Boolean);
      return param ? ["by", ...parts] : parts;
    });
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

/**
 * A zod-openapi route with the service's conventions attached in one place: the credential check, the dated API
 * version and deprecations (src/modules/versions), the Idempotency-Key handling on POST, the security requirement
 * and the problem responses it can answer.
 */
export function defineRoute<const R extends DefineRouteConfig>(config: R) {
  const { credential, permission, feature, self, publicDocument, cache, errors = [], ...route } = config;
  const key = routeKeyOf(route.method, route.path);
  if (credential !== "none" && credential.includes("tenant") && (!permission || !feature)) {
    throw new Error(`${key}: a route open to tenant credentials declares its permission and feature`);
  }
  // the deprecation's dates and successor live in the versions registry, where GET /v1/versions reads them
  const deprecation = deprecationOf(key);
  if (Boolean(route.deprecated) !== Boolean(deprecation)) {
    throw new Error(`${key}: a deprecated route says \`deprecated: true\` and has its entry in versions.registry.ts`);
  }
  const middleware: MiddlewareHandler<AppEnv>[] = [];
  const statuses = new Set<number>([...errors, 500]);
  if (credential !== "none") {
    // the usage analytics wrap the credential check, so refusals of a known credential (403, 429) are counted too
    if (credential.includes("tenant")) middleware.push(usageAnalytics());
    // outside the credential check, so that its refusals carry the deprecation and the version too
    if (deprecation) middleware.push(deprecated(deprecation));
    middleware.push(apiVersion());
    middleware.push(
      requireCredential({
        kinds: credential,
        ...(permission ? { permission } : {}),
        ...(feature ? { feature } : {}),
        ...(self ? { self } : {}),
      }),
    );
    if (deprecation) middleware.push(deprecatedCallNotice(deprecation));
    // after the credential (a key's pinned version), outside idempotency (a replay is shaped for its own request)
    if (isVersionedRoute(key)) middleware.push(versionedRepresentation(key));
    // counted against requestsPerMonth (the plan's own routes are never refused for it, so a tenant can upgrade)
    if (credential.includes("tenant")) middleware.push(monthlyRequests({ enforce: feature !== "plan" }));
    // 400: an unknown Uom-Version
    for (const status of [400, 401, 403]) statuses.add(status);
  } else if (!publicDocument) {
    middleware.push(clientIpRateLimit());
  } else if (cache) {
    middleware.push(cache);
  }
  if (credential !== "none" || !publicDocument) statuses.add(429);
  if (route.request?.body) {
    for (const status of [400, 413]) statuses.add(status);
    // a JSON body refuses other media types with 415; form endpoints (OAuth) answer RFC 6749 errors instead
    if (route.request.body.content["application/json"]) statuses.add(415);
  }
  if (route.request?.query || route.request?.params) statuses.add(400);
  let request = route.request;
  if (credential !== "none") {
    const headers = request?.headers instanceof z.ZodObject ? request.headers : z.object({});
    request = { ...request, headers: headers.extend({ "uom-version": VersionHeaderSchema }) };
  }
  if (route.method === "post" && credential !== "none") {
    middleware.push(idempotency());
    statuses.add(409);
    const headers = request?.headers instanceof z.ZodObject ? request.headers : z.object({});
    request = { ...request, headers: headers.extend({ "idempotency-key": IdempotencyKeyHeader }) };
  }
  const documented = deprecation ? { ...route, ...documentDeprecation(deprecation, route) } : route;
  const responses = { ...problemResponses([...statuses].sort()), ...documented.responses };
  return createRoute({
    ...documented,
    ...(request ? { request } : {}),
    operationId: route.operationId ?? operationIdOf(route.method, route.path),
    responses,
    middleware,
    // an empty requirement list says "no credential" explicitly (OpenAPI 3.1 §4.8.10)
    security: credential === "none" ? [] : BEARER_SECURITY,
    "x-credential": credential === "none" ? [] : [...credential],
    ...(permission ? { "x-permission": permission } : {}),
    ...(feature ? { "x-plan-feature": feature } : {}),
    ...(self ? { "x-self": self } : {}),
  } as unknown as R & { middleware: MiddlewareHandler<AppEnv>[] });
}
