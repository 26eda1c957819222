import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { SecurityPolicySchema } from "./security-policy.schema";
import { readSecurityPolicy, replaceSecurityPolicy } from "./security-policy.service";

const tags = ["Security"];
const policyBody = { content: { "application/json": { schema: SecurityPolicySchema } } };
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "The policy's version" } };

const getRoute = defineRoute({
  method: "get",
  path: "/v1/security-policy",
  tags,
  summary: "The tenant's security policy",
  description:
    "Password length rules, the roles that must use a second factor, and the browser origins allowed (CORS).",
  credential: ["tenant"],
  permission: "settings:read",
  feature: "credentials",
  request: { headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: {
    200: { description: "The policy", headers: etagHeader, ...policyBody },
    304: { description: "Not modified (If-None-Match)", headers: etagHeader },
  },
});

const putRoute = defineRoute({
  method: "put",
  path: "/v1/security-policy",
  tags,
  summary: "Replace the tenant's security policy",
  description:
    "A full replacement: an omitted section takes its default. Audited as `tenant.security_policy_updated`. " +
    "Other isolates see the change within CREDENTIAL_CACHE_SECONDS. `If-Match` guards against lost updates.",
  credential: ["tenant"],
  permission: "settings:write",
  feature: "credentials",
  errors: [409, 412],
  request: {
    headers: z.object({ "if-match": z.string().optional() }),
    body: { required: true, ...policyBody },
  },
  responses: { 200: { description: "The policy now in force", headers: etagHeader, ...policyBody } },
});

export const securityPolicyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(getRoute, async (c) => {
    const { policy, etag } = await readSecurityPolicy(await serviceContext(c));
    if (notModified(c.req.valid("header")["if-none-match"], etag)) return c.body(null, 304, { ETag: etag });
    return c.json(policy, 200, { ETag: etag });
  })
  .openapi(putRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { policy, etag } = await replaceSecurityPolicy(ctx, c.req.valid("json"), c.req.valid("header")["if-match"]);
    return c.json(policy, 200, { ETag: etag });
  });
