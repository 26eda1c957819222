import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import type { AuditEventRow } from "../../core/db/shared-schema";
import { ApiError, CoreErrors } from "../../core/errors";
import { decodeCursor, encodeCursor, pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { listAuditEvents } from "./audit.repo";
import { AuditEventSchema, AuditQuerySchema, AuditVerificationSchema } from "./audit.schema";
import { sealAuditTrail, verifyAuditTrail } from "./audit.service";

const tags = ["Audit"];
// A tenant key reads its tenant's trail; the admin token reads the platform's (tenants, their keys).
const credential = ["tenant", "admin"] as const;

const listRoute = defineRoute({
  method: "get",
  path: "/v1/audit-events",
  tags,
  summary: "List audit events (newest first)",
  credential,
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
  responses: {
    200: { description: "The verdict", content: { "application/json": { schema: AuditVerificationSchema } } },
  },
});

function toEvent(row: AuditEventRow) {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actorType, id: row.actorId },
    resource: { type: row.resourceType, id: row.resourceId },
    changes: JSON.parse(row.changes) as Record<string, { from: unknown; to: unknown }>,
    requestId: row.requestId,
    ip: row.ip,
    userAgent: row.userAgent,
    createdAt: row.createdAt,
    hash: row.hash,
  };
}

export const auditRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { limit, cursor, since, until, ...filters } = c.req.valid("query");
    let beforeSeq: number | undefined;
    if (cursor) {
      const [seq] = decodeCursor("audit", cursor);
      if (typeof seq !== "number")
        throw new ApiError(CoreErrors.INVALID_CURSOR, { detail: "The cursor is malformed." });
      beforeSeq = seq;
    }
    await sealAuditTrail(ctx);
    const rows = await listAuditEvents(
      ctx.db,
      {
        ...filters,
        beforeSeq,
        since: since ? new Date(since).toISOString() : undefined,
        until: until ? new Date(until).toISOString() : undefined,
      },
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      { data: page.map(toEvent), nextCursor: rows.length > limit && last ? encodeCursor("audit", [last.seq]) : null },
      200,
    );
  })
  .openapi(verifyRoute, async (c) => c.json(await verifyAuditTrail(await serviceContext(c)), 200));
