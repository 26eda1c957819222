import { OpenAPIHono, z } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { BROADCAST_EVENTS, broadcast, MAX_RECIPIENTS } from "./broadcasts";

const BroadcastSchema = z
  .strictObject({
    event: z.enum(BROADCAST_EVENTS).openapi({ description: "The message: its templates are the event's." }),
    filter: z
      .string()
      .min(1)
      .max(4096)
      .openapi({
        description:
          "The audience, in the users filter grammar (GET /v1/users `filter`), a segment included " +
          '(`segment eq "dormant"`). Only active users receive it.',
        example: 'lastActiveAt lt "now-30d"',
      }),
    dryRun: z.boolean().optional().openapi({ description: "Count the audience, send nothing." }),
  })
  .openapi("Broadcast");

const BroadcastResultSchema = z
  .object({
    broadcastId: z.string().openapi({ example: "bcs_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }),
    event: z.enum(BROADCAST_EVENTS),
    recipients: z.number().int(),
    dryRun: z.boolean(),
  })
  .openapi("BroadcastResult");

const broadcastRoute = defineRoute({
  method: "post",
  path: "/v1/notifications/broadcasts",
  tags: ["Notifications"],
  summary: "Send a message to an audience",
  description:
    `One \`user.re_engagement\` message to every active user the filter names (at most ${MAX_RECIPIENTS}), ` +
    "through the tenant's channels and templates, with the users' opt-outs (category `reminders`) respected and " +
    "each message in the notification log (docs/notifications.md, Broadcasts).",
  credential: ["tenant"],
  permission: "notifications:write",
  feature: "notifications",
  request: { body: { content: { "application/json": { schema: BroadcastSchema } }, required: true } },
  responses: {
    202: {
      description: "Recorded; the messages go out",
      content: { "application/json": { schema: BroadcastResultSchema } },
    },
  },
});

export const broadcastsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  broadcastRoute,
  async (c) => c.json(await broadcast(await serviceContext(c), c.req.valid("json")), 202),
);
