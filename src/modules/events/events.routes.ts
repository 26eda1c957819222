import { OpenAPIHono } from "@hono/zod-openapi";
import { serviceContext } from "../../core/context";
import { pageSchema } from "../../core/http/pagination";
import { defineRoute } from "../../core/http/route";
import { validationHook } from "../../core/http/validation";
import type { AppEnv } from "../../env";
import { EventSchema, EventsQuerySchema } from "./events.schema";
import { listEvents } from "./events.service";

const listRoute = defineRoute({
  method: "get",
  path: "/v1/events",
  tags: ["Events"],
  summary: "List events (newest first)",
  description:
    "The tenant's domain events, as the EVENTS queue carries them (docs/events.md): every audited change, logins " +
    "and their failures, reset requests, and the platform's events about the tenant and its sub-accounts " +
    "(`tenant.*`, `plan.*`, a first API key). `data` holds ids, types and changed field names only, never personal " +
    "data, so it needs no field-level filtering. `sequence` orders the events of one subject; `delivery` says " +
    "whether the event consumers acknowledged it (`dispatched`), not yet (`pending`), or it was given up (`dead`). " +
    "Dispatched and dead events are kept EVENT_RETENTION_DAYS (30 by default), each subject's newest event longer.",
  credential: ["tenant"],
  permission: "events:read",
  feature: "webhooks",
  request: { query: EventsQuerySchema },
  responses: {
    200: {
      description: "A page of events",
      content: { "application/json": { schema: pageSchema(EventSchema, "EventPage") } },
    },
  },
});

export const eventsRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(listRoute, async (c) =>
  c.json(await listEvents(await serviceContext(c), c.req.valid("query")), 200),
);
