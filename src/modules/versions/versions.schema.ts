import { z } from "@hono/zod-openapi";
import { LATEST_VERSION, VERSION_NAMES } from "./versions.registry";

/** The `Uom-Version` request header, as every credentialed route documents it (checked by versions.middleware.ts). */
export const VersionHeaderSchema = z
  .string()
  .optional()
  .openapi({
    description:
      `The dated API version to answer in (${VERSION_NAMES.join(", ")}; GET /v1/versions). Default: the API key's ` +
      `pinned version, else the latest (${LATEST_VERSION}). Any other value is 400 UNSUPPORTED_VERSION.`,
    example: LATEST_VERSION,
  });

const Route = z.string().openapi({ description: "Method and route template.", example: "GET /v1/users/{id}" });

const DeprecationSchema = z
  .object({
    method: z.string().openapi({ example: "POST" }),
    path: z.string().openapi({ example: "/v1/users/{id}/undelete" }),
    deprecatedAt: z.string().openapi({ description: "RFC 3339 (the `Deprecation` header, RFC 9745)." }),
    sunset: z.string().openapi({ description: "RFC 3339: it may stop working after this (`Sunset`, RFC 8594)." }),
    successor: Route.openapi({ description: "The route to use instead.", example: "POST /v1/users/{id}/restore" }),
    docs: z.string().openapi({ description: "Documentation, relative to this service's origin.", example: "/docs" }),
  })
  .openapi("Deprecation");

export const VersionsSchema = z
  .object({
    latest: z.string().openapi({ description: "What requests are answered in without a pinned key or header." }),
    versions: z
      .array(
        z.object({
          version: z.string().openapi({ description: "The `Uom-Version` value." }),
          released: z.string().openapi({ description: "The release date (UTC); a version is named after it." }),
          changes: z.array(z.object({ description: z.string(), routes: z.array(Route) })).openapi({
            description: "What this version changed from the one before it; older versions get the old shape back.",
          }),
        }),
      )
      .openapi({ description: "Newest first." }),
    deprecations: z.array(DeprecationSchema),
  })
  .openapi("Versions", {
    example: {
      latest: "2026-11-01",
      versions: [
        {
          version: "2026-11-01",
          released: "2026-11-01",
          changes: [
            {
              description: "A user's second factors are an object, `mfa: {totp: boolean}`, in place of `mfaEnabled`.",
              routes: ["GET /v1/users/{id}"],
            },
          ],
        },
        { version: "2026-04-01", released: "2026-04-01", changes: [] },
      ],
      deprecations: [
        {
          method: "POST",
          path: "/v1/users/{id}/undelete",
          deprecatedAt: "2026-11-01T00:00:00Z",
          sunset: "2027-06-30T00:00:00Z",
          successor: "POST /v1/users/{id}/restore",
          docs: "/docs",
        },
      ],
    },
  });
