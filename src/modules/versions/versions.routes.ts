import { OpenAPIHono } from "@hono/zod-openapi";
import { defineRoute } from "../../core/http/route";
import type { AppEnv } from "../../env";
import { DEPRECATIONS, LATEST_VERSION, VERSIONS } from "./versions.registry";
import { VersionsSchema } from "./versions.schema";

const versionsRoute = defineRoute({
  method: "get",
  path: "/v1/versions",
  tags: ["Versions"],
  summary: "API versions and deprecations",
  description:
    "The dated versions (`Uom-Version`), newest first, with what each changed, and the deprecated routes with their " +
    "sunset and successor (docs/versioning.md). The same for everyone: no credential.",
  credential: "none",
  publicDocument: true,
  responses: {
    200: { description: "Versions and deprecations", content: { "application/json": { schema: VersionsSchema } } },
  },
});

// built once: the registry is fixed at build time
const document = {
  latest: LATEST_VERSION,
  versions: [...VERSIONS].reverse().map(({ version, changes }) => ({
    version,
    released: version,
    changes: changes.map(({ description, routes }) => ({ description, routes: [...routes] })),
  })),
  deprecations: DEPRECATIONS.map(({ route, deprecatedAt, sunset, successor, docs }) => {
    const [method, path] = route.split(" ") as [string, string];
    return { method, path, deprecatedAt, sunset, successor, docs };
  }),
};

export const versionsRoutes = new OpenAPIHono<AppEnv>().openapi(versionsRoute, (c) => c.json(document, 200));
