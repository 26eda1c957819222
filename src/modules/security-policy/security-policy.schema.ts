import { z } from "@hono/zod-openapi";

/**
 * A tenant's security policy. Every field has a default, so `{}` is the default policy and a stored policy
 * written by an older version still parses.
 */
export const PasswordPolicySchema = z
  .strictObject({
    minLength: z.int().min(8).max(256).default(8),
    maxLength: z.int().min(8).max(256).default(256),
  })
  .refine((p) => p.minLength <= p.maxLength, { message: "minLength must not exceed maxLength.", path: ["minLength"] });

export const MfaPolicySchema = z.strictObject({
  /** Users holding any of these roles must present a second factor at login (and enrol one before they can). */
  requiredForRoles: z.array(z.string().min(1).max(64)).max(50).default([]),
});

export const CorsPolicySchema = z.strictObject({
  /** Browser origins (`https://app.example.com`) allowed to read this tenant's API responses. */
  allowedOrigins: z
    .array(z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).origin === u, "An origin: scheme://host[:port]."))
    .max(100)
    .default([]),
});

export const ScimPolicySchema = z.strictObject({
  /**
   * Accept known client quirks on /scim/v2 (docs/scim.md, "Lenient mode"): Entra ID's `"active": "False"`
   * strings, value paths that match no entry, dotted or extension-URN keys in a path-less replace, and a remove
   * of listed members. Off: the RFC 7644 behaviour, which refuses them with a SCIM error.
   */
  lenient: z.boolean().default(false),
});

export const SecurityPolicySchema = z
  .strictObject({
    password: PasswordPolicySchema.default({ minLength: 8, maxLength: 256 }),
    mfa: MfaPolicySchema.default({ requiredForRoles: [] }),
    cors: CorsPolicySchema.default({ allowedOrigins: [] }),
    scim: ScimPolicySchema.default({ lenient: false }),
  })
  .openapi("SecurityPolicy", {
    example: {
      password: { minLength: 12, maxLength: 256 },
      mfa: { requiredForRoles: ["admin"] },
      cors: { allowedOrigins: ["https://app.example.com"] },
      scim: { lenient: false },
    },
  });

export type SecurityPolicy = z.infer<typeof SecurityPolicySchema>;
