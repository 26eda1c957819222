import type { EventConsumer } from "../events/consumers";
import { planIncludes } from "../plans";
import { pluginRegistry } from "./active";
import { enabledSettings } from "./settings";
import { enqueueEventTasks, type PluginTask } from "./tasks";
import { tenantById } from "./tenant";

/**
 * The `plugins` event consumer: for each event, one plugin-tasks message per enabled plugin that handles its type.
 * Quick local work only (one query, one send); the handlers run from the plugin-tasks queue, idempotent by event id.
 */
export const pluginEventConsumer: EventConsumer = {
  name: "plugins",
  async consume(ctx, events) {
    const registry = pluginRegistry();
    const handling = new Set(events.flatMap((event) => registry.handling(event.type).map((p) => p.id)));
    if (handling.size === 0) return;
    const tenant = await tenantById(ctx.env, ctx.tenantId);
    if (!tenant || !planIncludes(tenant.plan, "plugins")) return;
    const enabled = new Set((await enabledSettings(ctx.db, [...handling])).map((row) => row.plugin_id));
    const tasks = events.flatMap((event) =>
      registry
        .handling(event.type)
        .filter((plugin) => enabled.has(plugin.id))
        .map(
          (plugin): Extract<PluginTask, { kind: "event" }> => ({
            kind: "event",
            tenantId: ctx.tenantId,
            pluginId: plugin.id,
            event,
          }),
        ),
    );
    if (tasks.length > 0) await enqueueEventTasks(ctx.env, tasks);
  },
};
