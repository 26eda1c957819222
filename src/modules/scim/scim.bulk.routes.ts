import { OpenAPIHono } from "@hono/zod-openapi";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { runBulk } from "./scim.bulk";
import { bodyOf, defineScimRoute, SCIM_BASE, scimBody, scimContext, scimJson, scimSuccess } from "./scim.http";
import { URN } from "./scim.urns";

const bulkRoute = defineScimRoute({
  method: "post",
  path: `${SCIM_BASE}/Bulk`,
  summary: "SCIM: bulk operations (RFC 7644 §3.7)",
  description:
    "Operations on /Users and /Groups with bulkId references and failOnErrors; maxOperations and maxPayloadSize " +
    "are in /scim/v2/ServiceProviderConfig (413 beyond them). Each operation commits on its own.",
  request: {
    body: scimBody({
      schemas: [URN.bulkRequest],
      Operations: [
        {
          method: "POST",
          path: "/Users",
          bulkId: "ada",
          data: { schemas: [URN.user], userName: "ada", emails: [{ value: "ada@example.com" }] },
        },
      ],
    }),
  },
  responses: { 200: scimSuccess("A BulkResponse: each operation's status, location and version") },
});

export const scimBulkRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(bulkRoute, async (c) => {
  return scimJson(c, await runBulk(await scimContext(c), bodyOf(c)));
});
