import { app } from "./app";
import { dailyMaintenance, sealAllAuditTrails } from "./jobs";

export { RateLimiter } from "./durable-objects/rate-limiter";
export { UsageMeter } from "./durable-objects/usage-meter";

export default {
  fetch: app.fetch,

  async scheduled(controller, env, ctx) {
    if (controller.cron === "* * * * *") ctx.waitUntil(sealAllAuditTrails(env));
    else ctx.waitUntil(dailyMaintenance(env));
  },

  /**
   * Domain events from the outbox arrive here once the Events issue lands (webhooks, notifications). Until
   * then nothing is produced; a message that does arrive is logged and acknowledged, never lost silently.
   */
  async queue(batch) {
    for (const message of batch.messages) {
      console.log(JSON.stringify({ level: "warn", msg: "event without consumer", queue: batch.queue, id: message.id }));
      message.ack();
    }
  },
} satisfies ExportedHandler<Env>;
