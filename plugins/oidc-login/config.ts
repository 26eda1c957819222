import { z } from "../../src/core/plugins";

/** http is for a provider or an app on this machine only (ctx.fetch refuses loopback outside development anyway). */
function httpsOrLoopback(raw: string): boolean {
  const url = new URL(raw);
  if (url.protocol === "https:") return true;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return url.protocol === "http:" && (host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host));
}

const HttpsUrl = z
  .url()
  .max(2048)
  .refine(httpsOrLoopback, "An https URL (http only to localhost or 127.0.0.1, for development).");

export const ConfigSchema = z.object({
  /** The provider's issuer identifier, exactly as its discovery document and ID tokens state it. */
  issuer: HttpsUrl.refine((raw) => !new URL(raw).search && !new URL(raw).hash, "An issuer has no query or fragment."),
  /** Our client at the provider. */
  clientId: z.string().min(1).max(255),
  /** Sealed at rest, never returned. */
  clientSecret: z.string().min(1).max(1024),
  scopes: z
    .string()
    .max(500)
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, "Space-separated scope tokens (RFC 6749 §3.3).")
    .refine((scopes) => scopes.split(" ").includes("openid"), "OpenID Connect needs the openid scope.")
    .default("openid email profile"),
  /**
   * Sign an unknown identity in as the existing user with the same email, when the provider says the email is
   * verified. Off by default: it trusts the provider to own the email's domain (and skips our second factor).
   */
  linkByVerifiedEmail: z.boolean().default(false),
  /** Where the tenant's apps may be sent back with the code (exact match; RFC 6749 §3.1.2: no fragment). */
  redirectUris: z
    .array(HttpsUrl.refine((raw) => !new URL(raw).hash, "A redirect URI has no fragment."))
    .min(1)
    .max(20),
});

export type Config = z.infer<typeof ConfigSchema>;
