import { z } from "@hono/zod-openapi";

/** `authorization_code`: codes of sign-ins outside the token endpoint (an external login plugin: oidc-login). */
export const GRANT_TYPES = ["client_credentials", "password", "refresh_token", "authorization_code"] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

const CLIENT_ID_EXAMPLE = "cli_01JD8Z6Q1W3V8K2N4T5R6Y7P9A";
const OAUTH_CLIENT_ID_EXAMPLE = "uom_ci_3kTq9Vb2Lx7Wm4Np8Rs1Yz";

const RoleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, "Lower-case letters, digits, '_' and '-', starting with a letter.");

export const CreateClientSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).openapi({ example: "Reporting backend" }),
    grantTypes: z
      .array(z.enum(GRANT_TYPES))
      .min(1)
      .max(GRANT_TYPES.length)
      .refine((grants) => new Set(grants).size === grants.length, "Each grant type at most once.")
      .refine(
        (grants) =>
          !grants.includes("refresh_token") || grants.includes("password") || grants.includes("authorization_code"),
        "refresh_token needs the password or authorization_code grant: only end users' logins get refresh tokens.",
      )
      .openapi({ example: ["client_credentials"] }),
    roles: z
      .array(RoleName)
      .max(50)
      .openapi({
        description:
          "What the client's tokens may do: its own token carries these roles' permissions; an end user's token " +
          "the user's permissions within them. Built-in or custom roles (GET /v1/roles); only roles whose grants you hold.",
        example: ["manager"],
      }),
  })
  .openapi("CreateOAuthClient", {
    example: { name: "Reporting backend", grantTypes: ["client_credentials"], roles: ["manager"] },
  });
export type CreateClientInput = z.infer<typeof CreateClientSchema>;

export const OAuthClientSchema = z
  .object({
    id: z.string().openapi({ example: CLIENT_ID_EXAMPLE }),
    clientId: z.string().openapi({ description: "The OAuth client_id.", example: OAUTH_CLIENT_ID_EXAMPLE }),
    name: z.string().openapi({ example: "Reporting backend" }),
    grantTypes: z.array(z.enum(GRANT_TYPES)).openapi({ example: ["client_credentials"] }),
    roles: z.array(z.string()).openapi({ example: ["manager"] }),
    createdAt: z.string().openapi({ example: "2026-11-25T19:04:32.123Z" }),
  })
  .openapi("OAuthClient");
export type OAuthClientView = z.infer<typeof OAuthClientSchema>;

export const OAuthClientWithSecretSchema = OAuthClientSchema.extend({
  clientSecret: z.string().openapi({
    description: "Shown this once: only its SHA-256 is stored.",
    example: "uom_cs_7hWq0v2m0PZ6bq3Y1x8RkT5aLcN7dEfGh1a2B3c4D5e6F7g",
  }),
}).openapi("OAuthClientWithSecret");

export const ClientIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: CLIENT_ID_EXAMPLE }),
});
