// OAUTH_ISSUER is an optional var (`wrangler secret`/`[vars]` or .dev.vars): unset or empty, the issuer is the
// request's origin. Declared here rather than in wrangler.toml so that an absent value stays absent.
declare global {
  namespace Cloudflare {
    interface Env {
      OAUTH_ISSUER?: string;
    }
  }
}

/** Access tokens of a client (client_credentials). */
export const CLIENT_TOKEN_SECONDS = 60 * 60;
/** Access tokens of an end user (password and refresh grants): short, as a refresh token renews them. */
export const USER_TOKEN_SECONDS = 15 * 60;
/** The longest access-token lifetime: how long a retired signing key stays published. */
export const LONGEST_TOKEN_SECONDS = Math.max(CLIENT_TOKEN_SECONDS, USER_TOKEN_SECONDS);
/** A refresh-token family (one login) lives this long from the login; rotations keep its end. */
export const REFRESH_FAMILY_SECONDS = 30 * 24 * 60 * 60;

/**
 * The token issuer (`iss`, RFC 8414 `issuer`): OAUTH_ISSUER when configured, else the origin the request came
 * to. RFC 8414 §3 puts the metadata at `/.well-known/oauth-authorization-server` under the issuer's host, so
 * OAUTH_ISSUER is an origin without a path.
 */
export function issuerOf(env: Env, requestOrigin: string): string {
  const configured = env.OAUTH_ISSUER?.trim();
  return configured ? configured.replace(/\/+$/, "") : requestOrigin;
}

/** The audience of every access token: this API (RFC 9068 §3 `aud`). */
export function audienceOf(issuer: string): string {
  return `${issuer}/v1`;
}
