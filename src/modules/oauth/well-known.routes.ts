import { OpenAPIHono } from "@hono/zod-openapi";
import { PERMISSIONS } from "../../core/auth/permissions";
import { publicCache } from "../../core/http/public-cache";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { GRANT_TYPES } from "./clients.schema";
import { issuerOf } from "./oauth.config";
import { JwksSchema, MetadataSchema } from "./oauth.schema";
import { JWKS_MAX_AGE_SECONDS, publishedKeys } from "./signing-keys";

const tags = ["OAuth"];
const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"];
/** A JWK Set without a key (before the first token) is not kept: the first key must show at once. */
const hasKeys = async (response: Response) => ((await response.json()) as { keys: unknown[] }).keys.length > 0;

const jwksRoute = defineRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags,
  summary: "Access-token signing keys (JWK Set)",
  description:
    "Every key that signs now, will sign soon (published before its first use) or signed a token that has not " +
    `expired yet. Cacheable for ${JWKS_MAX_AGE_SECONDS} s (a key signs only after it has been published longer); ` +
    "refetch on an unknown kid.",
  credential: "none",
  publicDocument: true,
  cache: publicCache(JWKS_MAX_AGE_SECONDS, hasKeys),
  responses: { 200: { description: "The JWK Set", content: { "application/json": { schema: JwksSchema } } } },
});

const metadataRoute = defineRoute({
  method: "get",
  path: "/.well-known/oauth-authorization-server",
  tags,
  summary: "Authorization server metadata (RFC 8414)",
  credential: "none",
  publicDocument: true,
  cache: publicCache(JWKS_MAX_AGE_SECONDS),
  responses: {
    200: { description: "The metadata", content: { "application/json": { schema: MetadataSchema } } },
  },
});

export const wellKnownRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(jwksRoute, async (c) => {
    return c.json({ keys: await publishedKeys(c.env) }, 200);
  })
  .openapi(metadataRoute, (c) => {
    const origin = new URL(c.req.url).origin;
    const issuer = issuerOf(c.env, origin);
    return c.json(
      {
        issuer,
        token_endpoint: `${issuer}/oauth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        introspection_endpoint: `${issuer}/oauth/introspect`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        grant_types_supported: [...GRANT_TYPES],
        // no authorization endpoint: no response types (RFC 8414 §2 requires the member)
        response_types_supported: [],
        scopes_supported: [...PERMISSIONS],
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        service_documentation: `${issuer}/docs`,
      },
      200,
    );
  });
