import { defineErrors } from "../../core/errors";

/** Problems of the client management routes (the OAuth endpoints themselves answer RFC 6749 bodies). */
export const OAuthClientErrors = defineErrors({
  OAUTH_CLIENT_NOT_FOUND: { status: 404, title: "OAuth client not found" },
  OAUTH_CLIENT_ROLES_NOT_HELD: { status: 403, title: "A credential can only grant roles whose permissions it holds" },
});
