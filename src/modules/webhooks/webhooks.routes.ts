import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { notModified } from "../../core/http/etag";
import { PageQuerySchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { listDeliveries, replayEvents, retryDelivery, sendTestEvent } from "./webhooks.deliveries.service";
import {
  CreateWebhookSchema,
  DeliveriesQuerySchema,
  DeliveryPageSchema,
  DeliveryParamSchema,
  DeliverySchema,
  ReplayResultSchema,
  ReplaySchema,
  WebhookIdParamSchema,
  WebhookListSchema,
  WebhookPatchSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from "./webhooks.schema";
import * as webhooks from "./webhooks.service";

const tags = ["Webhooks"];
const credential = ["tenant"] as const;
const feature = "webhooks" as const;
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "Strong validator of this version" } };
const ifMatchHeaders = z.object({
  "if-match": z
    .string()
    .optional()
    .openapi({ description: "Write only if the endpoint still has this ETag (else 412)." }),
});
const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const createRoute = defineRoute({
  method: "post",
  path: "/v1/webhooks",
  tags,
  summary: "Create a webhook endpoint",
  description:
    "The endpoint receives the tenant's events whose type matches one of its filters, signed per Standard Webhooks " +
    "(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`). The `secret` is shown only " +
    "in this answer (and by rotate-secret). Within the plan's quota `webhookEndpoints` (403 QUOTA_EXCEEDED); the URL " +
    "passes the SSRF guard (400 WEBHOOK_URL_NOT_ALLOWED). docs/webhooks.md.",
  credential,
  permission: "webhooks:write",
  feature,
  request: { body: { required: true, content: json(CreateWebhookSchema) } },
  responses: {
    201: { description: "Created, with its secret", headers: etagHeader, content: json(WebhookWithSecretSchema) },
  },
});

const listRoute = defineRoute({
  method: "get",
  path: "/v1/webhooks",
  tags,
  summary: "List webhook endpoints (oldest first)",
  credential,
  permission: "webhooks:read",
  feature,
  request: { query: PageQuerySchema },
  responses: { 200: { description: "A page of endpoints", content: json(WebhookListSchema) } },
});

const getRoute = defineRoute({
  method: "get",
  path: "/v1/webhooks/{id}",
  tags,
  summary: "Get a webhook endpoint",
  credential,
  permission: "webhooks:read",
  feature,
  errors: [404],
  request: { params: WebhookIdParamSchema, headers: z.object({ "if-none-match": z.string().optional() }) },
  responses: {
    200: { description: "The endpoint (never its secret)", headers: etagHeader, content: json(WebhookSchema) },
    304: { description: "Not modified (If-None-Match)" },
  },
});

const patchRoute = defineRoute({
  method: "patch",
  path: "/v1/webhooks/{id}",
  tags,
  summary: "Change a webhook endpoint (JSON merge patch)",
  description:
    'URL, filters, description, and `status`: `"enabled"` turns a disabled endpoint back on (its failure count ' +
    'starts again), `"disabled"` stops deliveries to it.',
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 409, 412],
  request: {
    params: WebhookIdParamSchema,
    headers: ifMatchHeaders,
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: WebhookPatchSchema },
        "application/json": { schema: WebhookPatchSchema },
      },
    },
  },
  responses: { 200: { description: "The changed endpoint", headers: etagHeader, content: json(WebhookSchema) } },
});

const deleteRoute = defineRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  tags,
  summary: "Delete a webhook endpoint",
  description: "Its delivery log goes with it, and deliveries still pending stop.",
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 409, 412],
  request: { params: WebhookIdParamSchema, headers: ifMatchHeaders },
  responses: { 204: { description: "Deleted" } },
});

const rotateRoute = defineRoute({
  method: "post",
  path: "/v1/webhooks/{id}/rotate-secret",
  tags,
  summary: "Rotate the signing secret",
  description:
    "A new secret, shown only in this answer. The previous one keeps signing for WEBHOOK_SECRET_OVERLAP_SECONDS " +
    "(24 h by default): each request then carries both signatures (`v1,<new> v1,<old>`), so a receiver can switch " +
    "without missing one.",
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 412],
  request: { params: WebhookIdParamSchema, headers: ifMatchHeaders },
  responses: {
    200: {
      description: "The endpoint with its new secret",
      headers: etagHeader,
      content: json(
        WebhookWithSecretSchema.extend({
          previousSecretExpiresAt: z.string().openapi({ description: "The previous secret signs until then." }),
        }).openapi("WebhookRotatedSecret"),
      ),
    },
  },
});

const deliveriesRoute = defineRoute({
  method: "get",
  path: "/v1/webhooks/{id}/deliveries",
  tags,
  summary: "The endpoint's delivery log (newest first)",
  description:
    "One delivery per event sent to the endpoint, each with every attempt (time, status code or error, duration, " +
    "the first KiB of the response).",
  credential,
  permission: "webhooks:read",
  feature,
  errors: [404],
  request: { params: WebhookIdParamSchema, query: DeliveriesQuerySchema },
  responses: { 200: { description: "A page of deliveries", content: json(DeliveryPageSchema) } },
});

const retryRoute = defineRoute({
  method: "post",
  path: "/v1/webhooks/{id}/deliveries/{deliveryId}/retry",
  tags,
  summary: "Retry one delivery now",
  description:
    "A new attempt, queued now, whatever the delivery's state; the same `webhook-id` (the event id), so the " +
    "receiver can tell it is the same event. A disabled endpoint is 409 WEBHOOK_ENDPOINT_DISABLED.",
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 409],
  request: { params: DeliveryParamSchema },
  responses: { 202: { description: "Queued", content: json(DeliverySchema) } },
});

const replayRoute = defineRoute({
  method: "post",
  path: "/v1/webhooks/{id}/replay",
  tags,
  summary: "Deliver again every matching event since a time",
  description:
    "Every event at or after `since` that the endpoint's filters match, oldest first, at most 10,000 per call " +
    "(`nextSince` tells where to go on). `since` may go back as far as the event retention (EVENT_RETENTION_DAYS, " +
    "and at most the plan's auditRetentionDays; 400 WEBHOOK_REPLAY_TOO_OLD beyond). Receivers dedupe by `webhook-id`.",
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 409],
  request: { params: WebhookIdParamSchema, body: { required: true, content: json(ReplaySchema) } },
  responses: { 202: { description: "Queued", content: json(ReplayResultSchema) } },
});

const testRoute = defineRoute({
  method: "post",
  path: "/v1/webhooks/{id}/test",
  tags,
  summary: "Send a test event",
  description: "A `webhook.test` event, to this endpoint only; it shows in its delivery log like any other.",
  credential,
  permission: "webhooks:write",
  feature,
  errors: [404, 409],
  request: { params: WebhookIdParamSchema },
  responses: { 202: { description: "Queued", content: json(DeliverySchema) } },
});

export const webhooksRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createRoute, async (c) => {
    const { webhook, secret, etag } = await webhooks.createWebhook(await serviceContext(c), c.req.valid("json"));
    return c.json({ ...webhook, secret }, 201, { ETag: etag, Location: `/v1/webhooks/${webhook.id}` });
  })
  .openapi(listRoute, async (c) =>
    c.json(await webhooks.listWebhooks(await serviceContext(c), c.req.valid("query")), 200),
  )
  .openapi(getRoute, async (c) => {
    const { webhook, etag } = await webhooks.getWebhook(await serviceContext(c), c.req.valid("param").id);
    if (notModified(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.json(webhook, 200, { ETag: etag });
  })
  .openapi(patchRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { webhook, etag } = await webhooks.updateWebhook(
      ctx,
      c.req.valid("param").id,
      c.req.valid("json"),
      c.req.header("if-match"),
    );
    return c.json(webhook, 200, { ETag: etag });
  })
  .openapi(deleteRoute, async (c) => {
    await webhooks.deleteWebhook(await serviceContext(c), c.req.valid("param").id, c.req.header("if-match"));
    return c.body(null, 204);
  })
  .openapi(rotateRoute, async (c) => {
    const ctx = await serviceContext(c);
    const { webhook, secret, etag, previousSecretExpiresAt } = await webhooks.rotateSecret(
      ctx,
      c.req.valid("param").id,
      c.req.header("if-match"),
    );
    return c.json({ ...webhook, secret, previousSecretExpiresAt }, 200, { ETag: etag });
  })
  .openapi(deliveriesRoute, async (c) =>
    c.json(await listDeliveries(await serviceContext(c), c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(retryRoute, async (c) => {
    const { id, deliveryId } = c.req.valid("param");
    return c.json(await retryDelivery(await serviceContext(c), id, deliveryId), 202);
  })
  .openapi(replayRoute, async (c) =>
    c.json(await replayEvents(await serviceContext(c), c.req.valid("param").id, c.req.valid("json").since), 202),
  )
  .openapi(testRoute, async (c) => c.json(await sendTestEvent(await serviceContext(c), c.req.valid("param").id), 202));
