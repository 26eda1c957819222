import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { retrainLearnedSegments } from "./segments.learned";
import {
  CreateSegmentSchema,
  RetrainResultSchema,
  SegmentListQuerySchema,
  SegmentListSchema,
  SegmentNameParamSchema,
  SegmentPatchSchema,
  SegmentSchema,
} from "./segments.schema";
import * as segments from "./segments.service";

const tags = ["Segments"];
const credential = ["tenant"] as const;
const feature = "segments" as const;
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "Strong validator of this version" } };
const ifMatchHeaders = z.object({
  "if-match": z
    .string()
    .optional()
    .openapi({ description: "Write only if the segment still has this ETag (else 412)." }),
});
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const createRoute = defineRoute({
  method: "post",
  path: "/v1/segments",
  tags,
  summary: "Save a segment",
  description:
    "A name (a slug, unique in the tenant) and a users filter, validated as GET /v1/users validates one (400 " +
    'INVALID_FILTER). Use it as `filter=segment eq "<name>"` in GET /v1/users and as a report or notification ' +
    "audience. A filter may not name another segment, nor compare email, phone or a pii field with a value (it is " +
    "stored as written). At most 100 per tenant. docs/segments.md.",
  credential,
  permission: "segments:write",
  feature,
  errors: [409],
  request: { body: { required: true, content: json(CreateSegmentSchema) } },
  responses: { 201: { description: "Saved, with its live count", headers: etagHeader, content: json(SegmentSchema) } },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/segments",
  tags,
  summary: "List the saved and the learned segments",
  description:
    "Saved segments by name, then learned ones (`learned:<slug>`), each with its live `count` (one COUNT per saved " +
    "segment, in one round trip; `counts=false` leaves them out). `learning` tells how the last training went, " +
    "including when the tenant has too few users for learned segments.",
  credential,
  permission: "segments:read",
  feature,
  request: { query: SegmentListQuerySchema },
  responses: { 200: { description: "Every segment", content: json(SegmentListSchema) } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/segments/{name}",
  tags,
  summary: "Get a segment",
  credential,
  permission: "segments:read",
  feature,
  errors: [404],
  request: { params: SegmentNameParamSchema, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: {
    200: { description: "The segment and its live count", headers: etagHeader, content: json(SegmentSchema) },
    304: { description: "Not modified (If-None-Match)" },
  },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/segments/{name}",
  tags,
  summary: "Change a saved segment (JSON merge patch)",
  description: "Its description or filter (validated as on create). Learned segments change only by retraining (409).",
  credential,
  permission: "segments:write",
  feature,
  errors: [404, 409, 412],
  request: {
    params: SegmentNameParamSchema,
    headers: ifMatchHeaders,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: SegmentPatchSchema },
        "application/json": { schema: SegmentPatchSchema },
      },
    },
  },
  responses: { 200: { description: "The changed segment", headers: etagHeader, content: json(SegmentSchema) } },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/segments/{name}",
  tags,
  summary: "Delete a saved segment",
  description: "Filters naming it are then refused (400 INVALID_FILTER). Learned segments cannot be deleted (409).",
  credential,
  permission: "segments:write",
  feature,
  errors: [404, 409, 412],
  request: { params: SegmentNameParamSchema, headers: ifMatchHeaders },
  responses: { 204: { description: "Deleted" } },
});

const retrainRoute = defineRoute({
  method: "post",
  path: "/v1/segments/learned/retrain",
  tags,
  summary: "Retrain the learned segments now",
  description:
    "k-means over the users' behaviour (recency, frequency, tenure, breadth), k from 2 to 6 by silhouette, each " +
    "cluster described in words. Also done daily by cron. A tenant with fewer than 50 users gets none, and " +
    "`learning.status` says so (`too_few_users`). docs/segments.md.",
  credential,
  permission: "segments:write",
  feature,
  responses: { 200: { description: "The new learned segments", content: json(RetrainResultSchema) } },
});

export const segmentsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const { segment, etag } = await segments.createSegment(await serviceContext(c), c.req.valid("json"));
    return c.json(segment, 201, { ETag: etag, Location: `/v1/segments/${segment.name}` });
  })
  .openapi(listRoute, async (c) =>
    c.json(await segments.listSegments(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(retrainRoute, async (c) => c.json(await retrainLearnedSegments(await serviceContext(c)), 200))
  .openapi(getRoute, async (c) => {
    const { segment, etag } = await segments.getSegment(await serviceContext(c), c.req.valid("param").name);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(segment, 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const { segment, etag } = await segments.updateSegment(
      await serviceContext(c),
      c.req.valid("param").name,
      c.req.valid("json"),
      c.req.header("if-match"),
    );
    return c.json(segment, 200, { ETag: etag });
  })
  .openapi(deleteRoute, async (c) => {
    await segments.deleteSegment(await serviceContext(c), c.req.valid("param").name, c.req.header("if-match"));
    return c.body(null, 204);
  });
