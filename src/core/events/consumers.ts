import { notificationsConsumer } from "../../modules/notifications/consumer";
import { webhookFanOut } from "../../modules/webhooks/webhooks.fanout";
import { pluginEventConsumer } from "../plugins/events";
import type { EventMessage } from "./dispatch";

/** What an event consumer gets: one tenant's events of one queue batch, and that tenant's database. */
export interface EventConsumerContext {
  env: Env;
  tenantId: string;
  db: D1Database;
}

/**
 * Something that acts on domain events (webhook fan-out, notifications, plugin handlers). Delivery is at least
 * once: a consumer must be idempotent by event id (the same event may come again, before or after it succeeded).
 * Throwing retries the tenant's whole batch, so a consumer does only quick local work here (rows in the tenant's
 * database, messages on its own queue) and leaves slow outside calls to its own queue.
 */
export interface EventConsumer {
  name: string;
  consume(ctx: EventConsumerContext, events: readonly EventMessage[]): Promise<void>;
}

/** Every consumer, in the order they run. Each module adds its own here. */
export const EVENT_CONSUMERS: EventConsumer[] = [webhookFanOut, pluginEventConsumer, notificationsConsumer];
