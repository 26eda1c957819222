import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../../env";

/** RFC 6749 §5.2 error codes, RFC 7009 §2.2.1's, and the login's second-factor answers. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "unsupported_token_type"
  | "mfa_required"
  | "mfa_enrollment_required"
  // a login before-hook (plugin or HTTP action) refused the sign-in, or could not be reached (docs/actions.md)
  | "access_denied"
  | "temporarily_unavailable";

/**
 * An error of the OAuth endpoints. They answer RFC 6749 §5.2 bodies `{error, error_description}`, not
 * problem+json (DESIGN.md convention 1): OAuth clients parse exactly that.
 */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status: ContentfulStatusCode = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }
}

/** Token responses and their errors are never cached (RFC 6749 §5.1). */
export const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

export function oauthErrorResponse(c: Context<AppEnv>, error: OAuthError): Response {
  return c.json({ error: error.error, error_description: error.description }, error.status, {
    ...NO_STORE,
    ...error.headers,
  });
}
