import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { AuditEventSchema, AuditQuerySchema, AuditVerificationSchema } from "./audit.schema";
import { listAuditTrail, verifyAuditTrail } from "./audit.service";

const tags = ["Audit"];
// A tenant key reads its tenant's trail; the admin token reads the platform's (tenants, their keys).
const credential = ["tenant", "admin"] as const;

const listRoute = defineRoute({
  method: "get",
  path: "/v1/audit-events",
  tags,
  summary: "List audit events (newest first)",
  description:
    "A tenant sees the events of its plan's retention window (`auditRetentionDays`: 90 days on pro, 365 on " +
    "enterprise); older ones stay stored, and verified, but are not listed. The admin token reads the platform trail.",
  credential,
  permission: "audit:read",
  feature: "audit-api",
  request: { query: AuditQuerySchema },
  responses: {
    200: {
      description: "A page of audit events",
      content: { "application/json": { schema: pageSchema(AuditEventSchema, "AuditEventPage") } },
    },
  },
});

const verifyRoute = defineRoute({
  method: "get",
  path: "/v1/audit-events/verify",
  tags,
  summary: "Verify the audit chain",
  description: "Recomputes every event's MAC and chain link in order; reports the first broken one.",
  credential,
  permission: "audit:read",
  feature: "audit-api",
  responses: {
    200: { description: "The verdict", content: { "application/json": { schema: AuditVerificationSchema } } },
  },
});

export const auditRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    return c.json(await listAuditTrail(await serviceContext(c), c.req.valid("query")), 200);
  })
  .openapi(verifyRoute, async (c) => c.json(await verifyAuditTrail(await serviceContext(c)), 200));
