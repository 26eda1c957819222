import type { Auth } from "../../env";
import { invalidCredential } from "./credentials";

/** A compact JWS (RFC 7515 §7.1): three base64url parts, the header a JSON object. */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/.test(token);
}

// OAUTH-HELPER: replaced by the OAuth work (verify ES256 against the signing keys, deny list, tenant lookup).
export async function authenticateAccessToken(_env: Env, _token: string, _origin: string): Promise<Auth> {
  throw invalidCredential("Access tokens are not accepted yet.");
}

export function forgetTokenTenant(_tenantId: string): void {}
