import { z } from "@hono/zod-openapi";
import { PERMISSIONS } from "../../core/auth/permissions";
import { GRANT_TYPES } from "./clients.schema";

// Form bodies (application/x-www-form-urlencoded) of the OAuth endpoints. They document the endpoints only:
// the handlers parse the form themselves, so that a malformed request is an RFC 6749 error, not a problem.

const clientAuthFields = {
  client_id: z.string().optional().openapi({ description: "With client_secret: client_secret_post." }),
  client_secret: z.string().optional().openapi({ description: "Instead of HTTP Basic (RFC 6749 §2.3.1)." }),
};

export const TokenRequestSchema = z
  .object({
    grant_type: z.enum(GRANT_TYPES),
    scope: z.string().optional().openapi({ description: "Space-separated permissions; default: all allowed." }),
    username: z.string().optional().openapi({ description: "password grant: the user's email or username." }),
    password: z.string().optional().openapi({ description: "password grant." }),
    totp: z.string().optional().openapi({ description: "password grant: a TOTP or recovery code when enrolled." }),
    refresh_token: z.string().optional().openapi({ description: "refresh_token grant." }),
    code: z.string().optional().openapi({ description: "authorization_code grant: the one-time code." }),
    redirect_uri: z.string().optional().openapi({ description: "authorization_code grant: as when it was issued." }),
    code_verifier: z.string().optional().openapi({ description: "authorization_code grant: the PKCE verifier." }),
    ...clientAuthFields,
  })
  .openapi("OAuthTokenRequest", {
    description: "RFC 6749 §4.1.3, §4.3, §4.4, §6. Authenticate the client with HTTP Basic or client_id/client_secret.",
    example: { grant_type: "client_credentials", scope: "users:read" },
  });

export const TokenRequestByTokenSchema = z
  .object({
    token: z.string(),
    token_type_hint: z.string().optional().openapi({ description: "access_token or refresh_token; optional." }),
    ...clientAuthFields,
  })
  .openapi("OAuthTokenOperand", {
    description: "RFC 7662 §2.1 / RFC 7009 §2.1. Authenticate the client as on the token endpoint.",
    example: { token: "eyJhbGciOiJFUzI1NiIsImtpZCI6InNpZ18wMUpEOFo2UTFXM1Y4SzJONFQ1UjZZN1A5QSJ9.e30.sig" },
  });

export const TokenResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int(),
    scope: z.string(),
    refresh_token: z.string().optional(),
  })
  .openapi("OAuthTokenResponse", {
    example: {
      access_token:
        "eyJhbGciOiJFUzI1NiIsImtpZCI6InNpZ18wMUpEOFo2UTFXM1Y4SzJONFQ1UjZZN1A5QSIsInR5cCI6ImF0K2p3dCJ9.e30.sig",
      token_type: "Bearer",
      expires_in: 3600,
      scope: "users:read users:write",
    },
  });

export const OAuthErrorSchema = z
  .object({
    error: z.string(),
    error_description: z.string(),
  })
  .openapi("OAuthError", {
    description: "RFC 6749 §5.2",
    example: { error: "invalid_client", error_description: "The client is unknown or its secret is wrong." },
  });

export const IntrospectionSchema = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    sub: z.string().optional(),
    tid: z.string().optional(),
    sid: z.string().optional(),
    roles: z.array(z.string()).optional(),
    token_type: z.string().optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    nbf: z.number().int().optional(),
    iss: z.string().optional(),
    aud: z.string().optional(),
    jti: z.string().optional(),
  })
  .openapi("OAuthIntrospection", {
    description:
      "RFC 7662 §2.2. Only `active: false` for a token that is unknown, expired, revoked or not this tenant's.",
    example: {
      active: true,
      scope: "users:read",
      client_id: "uom_ci_3kTq9Vb2Lx7Wm4Np8Rs1Yz",
      sub: "cli_01JD8Z6Q1W3V8K2N4T5R6Y7P9A",
      token_type: "Bearer",
      exp: 1795000000,
    },
  });

export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks", {
  description: "RFC 7517 JWK Set: the ES256 public keys of current and recently retired signing keys.",
  example: { keys: [{ kty: "EC", crv: "P-256", x: "…", y: "…", kid: "sig_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", alg: "ES256" }] },
});

export const MetadataSchema = z
  .object({
    issuer: z.string(),
    token_endpoint: z.string(),
    jwks_uri: z.string(),
    introspection_endpoint: z.string(),
    revocation_endpoint: z.string(),
    grant_types_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    introspection_endpoint_auth_methods_supported: z.array(z.string()),
    revocation_endpoint_auth_methods_supported: z.array(z.string()),
    service_documentation: z.string(),
  })
  .openapi("AuthorizationServerMetadata", {
    description: "RFC 8414 §2",
    example: {
      issuer: "https://uom.example.com",
      token_endpoint: "https://uom.example.com/oauth/token",
      jwks_uri: "https://uom.example.com/.well-known/jwks.json",
      introspection_endpoint: "https://uom.example.com/oauth/introspect",
      revocation_endpoint: "https://uom.example.com/oauth/revoke",
      grant_types_supported: [...GRANT_TYPES],
      response_types_supported: [],
      scopes_supported: [...PERMISSIONS],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      service_documentation: "https://uom.example.com/docs",
    },
  });
