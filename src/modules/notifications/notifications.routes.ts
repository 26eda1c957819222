import { OpenAPIHono, z } from "@hono/zod-openapi";
import { requestInfo, serviceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { UserIdParamSchema } from "../users/users.schema";
import { NotificationErrors } from "./notifications.errors";
import {
  NotificationSchema,
  NotificationsQuerySchema,
  PreferencesInputSchema,
  PreferencesSchema,
  PushSubscriptionInputSchema,
  PushSubscriptionParamSchema,
  PushSubscriptionSchema,
  UnsubscribeQuerySchema,
} from "./notifications.schema";
import { getPreferences, listNotifications, putPreferences, unsubscribe } from "./notifications.service";
import { verifyUnsubscribeToken } from "./preferences";
import { addPushSubscription, deletePushSubscription, listPushSubscriptions } from "./push-subscriptions";

const tags = ["Notifications"];
const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });
// no credential: the signed token in the query is the authority (test/security/every-route.isolated.test.ts checks that an
// anonymous call without one is refused)
const TOKEN_AUTHENTICATION = { "x-token-authentication": "query:token" };

const logRoute = defineRoute({
  method: "get",
  path: "/v1/notifications",
  tags,
  summary: "The notification log (newest first)",
  description:
    "One entry per message: its event, template, channel, recipient user and status (`queued`, `sent`, `failed`, " +
    "`suppressed` with the reason). It holds no address and no content.",
  credential: ["tenant"],
  permission: "notifications:read",
  feature: "notifications",
  request: { query: NotificationsQuerySchema },
  responses: {
    200: { description: "A page of messages", ...json(pageSchema(NotificationSchema, "NotificationPage")) },
  },
});

const getPreferencesRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}/notification-preferences",
  tags,
  summary: "A user's notification preferences",
  credential: ["tenant"],
  permission: "users:read",
  feature: "notifications",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema },
  responses: { 200: { description: "The preferences", ...json(PreferencesSchema) } },
});

const putPreferencesRoute = defineRoute({
  method: "put",
  path: "/v1/users/{id}/notification-preferences",
  tags,
  summary: "Set a user's notification preferences",
  description: "Opt-outs of non-essential categories; security messages (verification, reset, new device) always go.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "notifications",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema, body: { required: true, ...json(PreferencesInputSchema) } },
  responses: { 200: { description: "The preferences", ...json(PreferencesSchema) } },
});

const unsubscribePageRoute = defineRoute({
  method: "get",
  path: "/v1/notifications/unsubscribe",
  tags,
  summary: "The unsubscribe page of a message's link",
  description:
    "Changes nothing (mail scanners open links): a page whose button POSTs to the same URL. A bad token is 400.",
  credential: "none",
  ...TOKEN_AUTHENTICATION,
  errors: [400],
  request: { query: UnsubscribeQuerySchema },
  responses: {
    200: {
      description: "An HTML page",
      content: { "text/html": { schema: z.string(), example: '<!doctype html>…<form method="post" …>' } },
    },
  },
});

const unsubscribeRoute = defineRoute({
  method: "post",
  path: "/v1/notifications/unsubscribe",
  tags,
  summary: "Unsubscribe (one click, RFC 8058)",
  description:
    "What the `List-Unsubscribe-Post: List-Unsubscribe=One-Click` header of a message lets mail clients do: opts " +
    "the user out of the message's category. The signed token is the only authority; it cannot opt in.",
  credential: "none",
  ...TOKEN_AUTHENTICATION,
  errors: [400],
  request: { query: UnsubscribeQuerySchema },
  responses: {
    200: {
      description: "Unsubscribed",
      ...json(
        z
          .object({ category: z.string(), unsubscribed: z.literal(true) })
          .openapi("Unsubscribed", { example: { category: "reminders", unsubscribed: true } }),
      ),
    },
  },
});

const addPushRoute = defineRoute({
  method: "post",
  path: "/v1/users/{id}/push-subscriptions",
  tags,
  summary: "Add a Web Push subscription",
  description:
    "A browser's PushSubscription (made with the VAPID public key of GET /v1/notification-channels). Endpoint " +
    "and keys are sealed at rest and never returned; the same endpoint again replaces its keys.",
  credential: ["tenant"],
  permission: "users:write",
  feature: "notifications-sms-push",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema, body: { required: true, ...json(PushSubscriptionInputSchema) } },
  responses: { 201: { description: "Stored", ...json(PushSubscriptionSchema) } },
});

const listPushRoute = defineRoute({
  method: "get",
  path: "/v1/users/{id}/push-subscriptions",
  tags,
  summary: "A user's Web Push subscriptions",
  credential: ["tenant"],
  permission: "users:read",
  feature: "notifications-sms-push",
  self: "id",
  errors: [404],
  request: { params: UserIdParamSchema },
  responses: {
    200: {
      description: "Their ids",
      ...json(
        z.object({ data: z.array(PushSubscriptionSchema) }).openapi("PushSubscriptionList", {
          example: { data: [{ id: "psh_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", createdAt: "2026-11-25T19:04:32.123Z" }] },
        }),
      ),
    },
  },
});

const deletePushRoute = defineRoute({
  method: "delete",
  path: "/v1/users/{id}/push-subscriptions/{subscriptionId}",
  tags,
  summary: "Remove a Web Push subscription",
  credential: ["tenant"],
  permission: "users:write",
  feature: "notifications-sms-push",
  self: "id",
  errors: [404],
  request: { params: PushSubscriptionParamSchema },
  responses: { 204: { description: "Removed" } },
});

function unsubscribePage(token: string): string {
  const action = `/v1/notifications/unsubscribe?token=${encodeURIComponent(token)}`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body>
<form method="post" action="${action.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">
<p>Stop receiving these messages?</p><button type="submit">Unsubscribe</button></form></body></html>`;
}

export const notificationsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(logRoute, async (c) => c.json(await listNotifications(await serviceContext(c), c.req.valid("query")), 200))
  .openapi(getPreferencesRoute, async (c) =>
    c.json(await getPreferences(await serviceContext(c), c.req.valid("param").id), 200),
  )
  .openapi(putPreferencesRoute, async (c) => {
    const ctx = await serviceContext(c);
    return c.json(await putPreferences(ctx, c.req.valid("param").id, c.req.valid("json").optedOut), 200);
  })
  .openapi(unsubscribePageRoute, async (c) => {
    const { token } = c.req.valid("query");
    if (!(await verifyUnsubscribeToken(c.env, token))) {
      throw new ApiError(NotificationErrors.INVALID_UNSUBSCRIBE_TOKEN, {
        detail: "The link is damaged or no longer valid.",
      });
    }
    return c.html(unsubscribePage(token), 200);
  })
  .openapi(unsubscribeRoute, async (c) =>
    c.json(await unsubscribe(c.env, c.req.valid("query").token, requestInfo(c)), 200),
  )
  .openapi(addPushRoute, async (c) => {
    const ctx = await serviceContext(c);
    return c.json(await addPushSubscription(ctx, c.req.valid("param").id, c.req.valid("json")), 201);
  })
  .openapi(listPushRoute, async (c) =>
    c.json({ data: await listPushSubscriptions(await serviceContext(c), c.req.valid("param").id) }, 200),
  )
  .openapi(deletePushRoute, async (c) => {
    const { id, subscriptionId } = c.req.valid("param");
    await deletePushSubscription(await serviceContext(c), id, subscriptionId);
    return c.body(null, 204);
  });
