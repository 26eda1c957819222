import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { ApiError, CoreErrors } from "../errors";
import { authenticate } from "./credentials";

export type CredentialKind = "admin" | "tenant";

/** Authenticates the request and requires one of the given kinds of credential. */
export function requireCredential(kinds: readonly CredentialKind[]): MiddlewareHandler<AppEnv> {
  return async function credentialMiddleware(c, next) {
    const auth = await authenticate(c.env, c.req.header("authorization"));
    if (!kinds.includes(auth.kind)) {
      throw kinds.includes("tenant")
        ? new ApiError(CoreErrors.TENANT_CREDENTIAL_REQUIRED, {
            detail: "Use one of the tenant's API keys; the platform admin token manages tenants.",
          })
        : new ApiError(CoreErrors.ADMIN_CREDENTIAL_REQUIRED, {
            detail: "Only the platform admin token manages tenants.",
          });
    }
    c.set("auth", auth);
    await next();
  };
}
