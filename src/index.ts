import { app } from "./app";
import { consumeDeadLetters, consumeEvents } from "./core/events/dispatch";
import { consumeDeadPluginTasks, consumePluginTasks } from "./core/plugins/tasks";
import { dailyMaintenance, sealAllAuditTrails } from "./jobs";
import { consumeNotifications, giveUpNotifications } from "./modules/notifications/sender";
import { consumeDeadDeliveries, consumeDeliveries } from "./modules/webhooks/webhooks.delivery";

export { RateLimiter } from "./durable-objects/rate-limiter";
export { UsageMeter } from "./durable-objects/usage-meter";

export default {
  fetch: app.fetch,

  async scheduled(controller, env, ctx) {
    if (controller.cron === "* * * * *") ctx.waitUntil(sealAllAuditTrails(env, controller.scheduledTime));
    else ctx.waitUntil(dailyMaintenance(env));
  },

  /**
   * `uom-events`: domain events from the outboxes, acknowledged by event id (idempotent; docs/events.md).
   * `uom-events-dlq`: the events it gave up on, marked dead in their outbox (never re-sent), logged and acknowledged.
   */
  async queue(batch, env) {
    if (batch.queue === "uom-events") return consumeEvents(env, batch.messages);
    if (batch.queue === "uom-events-dlq") return consumeDeadLetters(env, batch.messages);
    // webhook attempts, and the final failures to record (docs/webhooks.md)
    if (batch.queue === "uom-webhooks") return consumeDeliveries(env, batch.messages);
    if (batch.queue === "uom-webhooks-dlq") return consumeDeadDeliveries(env, batch.messages);
    // plugin work outside the request: failed after-hooks, event handlers (docs/plugins.md)
    if (batch.queue === "uom-plugin-tasks") return consumePluginTasks(env, batch.messages);
    if (batch.queue === "uom-plugin-tasks-dlq") return consumeDeadPluginTasks(env, batch.messages);
    // rendered and sent one by one, with retries (docs/notifications.md); the dead-letter queue marks them failed
    if (batch.queue === "uom-notifications") return consumeNotifications(env, batch.messages);
    if (batch.queue === "uom-notifications-dlq") return giveUpNotifications(env, batch.messages);
    for (const message of batch.messages) {
      console.log(JSON.stringify({ level: "warn", msg: "event without consumer", queue: batch.queue, id: message.id }));
      message.ack();
    }
  },
} satisfies ExportedHandler<Env>;
