import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { ChannelsSchema, ChannelsViewSchema, SettingsSchema } from "./channels.schema";
import { getChannels, getSettings, putChannels, putSettings } from "./channels.service";

const tags = ["Notifications"];
const credential = ["tenant"] as const;
const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });

const getChannelsRoute = defineRoute({
  method: "get",
  path: "/v1/notification-channels",
  tags,
  summary: "The notification channels",
  description:
    "Email, SMS and push settings; credentials are never returned (`hasPassword`, `hasApiKey`, `hasAuthToken`).",
  credential,
  permission: "notifications:read",
  feature: "notifications",
  responses: { 200: { description: "The channels", ...json(ChannelsViewSchema) } },
});

const putChannelsRoute = defineRoute({
  method: "put",
  path: "/v1/notification-channels",
  tags,
  summary: "Set the notification channels",
  description:
    "Replaces every channel (an absent one is removed). Email: SMTP (`starttls`, `tls`; `none` in development " +
    "only) or an HTTP email API (`resend` or `postmark` format). SMS: Twilio or a compatible API. Push: VAPID " +
    "keys are generated here (the public key is returned; the private key never leaves the service). " +
    "Credentials are sealed at rest and write-only: a PUT without one keeps the stored one. Hosts and URLs the " +
    "service would call must be public (https; loopback only in development). SMS and push need a plan with " +
    "`notifications-sms-push`.",
  credential,
  permission: "notifications:write",
  feature: "notifications",
  request: { body: { required: true, ...json(ChannelsSchema) } },
  responses: { 200: { description: "The channels as stored", ...json(ChannelsViewSchema) } },
});

const getSettingsRoute = defineRoute({
  method: "get",
  path: "/v1/notification-settings",
  tags,
  summary: "The notification settings",
  description: "The app name and links the messages use, the default locale and the activation reminder delay.",
  credential,
  permission: "notifications:read",
  feature: "notifications",
  responses: { 200: { description: "The settings", ...json(SettingsSchema) } },
});

const putSettingsRoute = defineRoute({
  method: "put",
  path: "/v1/notification-settings",
  tags,
  summary: "Set the notification settings",
  description: "Replaces the settings; absent members take their defaults.",
  credential,
  permission: "notifications:write",
  feature: "notifications",
  request: { body: { required: true, ...json(SettingsSchema) } },
  responses: { 200: { description: "The settings as stored", ...json(SettingsSchema) } },
});

export const channelsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(getChannelsRoute, async (c) => c.json(await getChannels(await serviceContext(c)), 200))
  .openapi(putChannelsRoute, async (c) => c.json(await putChannels(await serviceContext(c), c.req.valid("json")), 200))
  .openapi(getSettingsRoute, async (c) => c.json(await getSettings(await serviceContext(c)), 200))
  .openapi(putSettingsRoute, async (c) => c.json(await putSettings(await serviceContext(c), c.req.valid("json")), 200));
