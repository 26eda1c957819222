import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requestInfo } from "../../core/context";
import { onError } from "../../core/http/error-handler";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { authenticateClient } from "./client-auth";
import { introspect, revoke } from "./introspection.service";
import { issuerOf } from "./oauth.config";
import {
  IntrospectionSchema,
  OAuthErrorSchema,
  TokenRequestByTokenSchema,
  TokenRequestSchema,
  TokenResponseSchema,
} from "./oauth.schema";
import { NO_STORE, OAuthError, oauthErrorResponse } from "./oauth-error";
import {
  authorizationCodeGrant,
  clientCredentialsGrant,
  type GrantContext,
  passwordGrant,
  refreshTokenGrant,
  type TokenResponse,
} from "./token.service";

const tags = ["OAuth"];
const FORM = "application/x-www-form-urlencoded";

const oauthErrors = {
  400: {
    description: "RFC 6749 §5.2: invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, …",
    content: { "application/json": { schema: OAuthErrorSchema } },
  },
  401: {
    description: "invalid_client: unknown client, wrong secret, deleted client (with a Basic challenge)",
    content: { "application/json": { schema: OAuthErrorSchema } },
  },
};

/** RFC 8414 names; the security tests read this to expect `invalid_client` from an anonymous call. */
const CLIENT_AUTHENTICATION = { "x-client-authentication": ["client_secret_basic", "client_secret_post"] };

/** The form schemas are only documentation ($ref, not validated by zod-openapi): the handlers parse the form. */
const formBody = (name: string) => ({
  required: true,
  content: { [FORM]: { schema: { $ref: `#/components/schemas/${name}` } } },
});

const tokenRoute = defineRoute({
  ...CLIENT_AUTHENTICATION,
  method: "post",
  path: "/oauth/token",
  tags,
  summary: "Token endpoint (RFC 6749)",
  description:
    "Grants: `client_credentials`; `password` (an end user's email or username, password and `totp` when " +
    "enrolled; returns a refresh token when the client may refresh); `refresh_token` (rotated: each works " +
    "once, and reusing one revokes its whole session); `authorization_code` (RFC 6749 §4.1.3 with the PKCE " +
    "`code_verifier` and the same `redirect_uri`: a code of a sign-in through a login plugin, e.g. oidc-login; " +
    "it works once, for a minute). Client authentication: HTTP Basic or client_secret_post.",
  credential: "none",
  request: { body: formBody("OAuthTokenRequest") },
  responses: {
    200: { description: "The tokens", content: { "application/json": { schema: TokenResponseSchema } } },
    ...oauthErrors,
  },
});

const introspectRoute = defineRoute({
  ...CLIENT_AUTHENTICATION,
  method: "post",
  path: "/oauth/introspect",
  tags,
  summary: "Token introspection (RFC 7662)",
  credential: "none",
  request: { body: formBody("OAuthTokenOperand") },
  responses: {
    200: {
      description: "Whether the token is active",
      content: { "application/json": { schema: IntrospectionSchema } },
    },
    ...oauthErrors,
  },
});

const revokeRoute = defineRoute({
  ...CLIENT_AUTHENTICATION,
  method: "post",
  path: "/oauth/revoke",
  tags,
  summary: "Token revocation (RFC 7009)",
  description: "Always 200 for a token that is unknown or not the client's (RFC 7009 §2.2); it then changes nothing.",
  credential: "none",
  request: { body: formBody("OAuthTokenOperand") },
  responses: { 200: { description: "Revoked, or nothing to revoke" }, ...oauthErrors },
});

/**
 * The request's form (RFC 6749 §3.2: application/x-www-form-urlencoded, no parameter twice). Unknown
 * parameters are ignored (§3.1).
 */
async function readForm(c: Context<AppEnv>): Promise<URLSearchParams> {
  const type = c.req.header("content-type");
  const body = new TextDecoder().decode(await c.req.arrayBuffer());
  // no body at all is an empty form (no parameters); anything else must be a form
  if (!(type === undefined && body === "") && !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type ?? "")) {
    throw new OAuthError("invalid_request", `Send the parameters as ${FORM}.`);
  }
  const form = new URLSearchParams(body);
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1) throw new OAuthError("invalid_request", `The ${name} parameter is repeated.`);
  }
  return form;
}

function grantContext(c: Context<AppEnv>): GrantContext {
  return {
    env: c.env,
    issuer: issuerOf(c.env, new URL(c.req.url).origin),
    request: requestInfo(c),
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}

async function authenticated(c: Context<AppEnv>) {
  const form = await readForm(c);
  const client = await authenticateClient(c.env, c.req.header("authorization"), form);
  return { form, client };
}

const GRANTS: Record<string, typeof clientCredentialsGrant> = {
  client_credentials: clientCredentialsGrant,
  password: passwordGrant,
  refresh_token: refreshTokenGrant,
  authorization_code: authorizationCodeGrant,
};

export const oauthTokenRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(tokenRoute, async (c) => {
    const { form, client } = await authenticated(c);
    const grantType = form.get("grant_type");
    if (!grantType) throw new OAuthError("invalid_request", "The grant_type parameter is required.");
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant) throw new OAuthError("unsupported_grant_type", `Grant types: ${Object.keys(GRANTS).join(", ")}.`);
    const tokens: TokenResponse = await grant(grantContext(c), client, form);
    return c.json(tokens, 200, NO_STORE);
  })
  .openapi(introspectRoute, async (c) => {
    const { form, client } = await authenticated(c);
    return c.json(await introspect(grantContext(c), client, form), 200, NO_STORE);
  })
  .openapi(revokeRoute, async (c) => {
    const { form, client } = await authenticated(c);
    await revoke(grantContext(c), client, form);
    return c.body(null, 200, NO_STORE);
  });

oauthTokenRoutes.openAPIRegistry.register("OAuthTokenRequest", TokenRequestSchema);
oauthTokenRoutes.openAPIRegistry.register("OAuthTokenOperand", TokenRequestByTokenSchema);

// RFC 6749 §5.2 bodies for OAuth errors; anything else is the service's usual problem.
oauthTokenRoutes.onError((error, c) =>
  error instanceof OAuthError ? oauthErrorResponse(c, error) : onError(error, c),
);
