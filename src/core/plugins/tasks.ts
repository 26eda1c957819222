import type { EventMessage } from "../events/dispatch";
import { newId } from "../ids";
import { planIncludes } from "../plans";
import { pluginRegistry } from "./active";
import { logPluginFailure, pluginContext } from "./context";
import type { AfterInputs, HookOperation } from "./define";
import { findSettings } from "./settings";
import { systemContext, tenantById } from "./tenant";

/**
 * The `uom-plugin-tasks` queue (binding PLUGIN_TASKS): plugin work done outside the request — an after-hook that
 * failed in the request, and plugins' event handlers (slow outside calls stay off the EVENTS consumer). At least once:
 * an event handler runs at most once per event id once it succeeded (`plugin_event_receipts`); a failure retries
 * after PLUGIN_RETRY_SECONDS, up to the queue's max_retries, then the dead-letter queue logs it.
 */
export type PluginTask =
  | { kind: "after"; tenantId: string; pluginId: string; operation: HookOperation; input: AfterInputs[HookOperation] }
  | { kind: "event"; tenantId: string; pluginId: string; event: EventMessage };

export function retrySeconds(env: Env): number {
  const seconds = Number(env.PLUGIN_RETRY_SECONDS);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : 30;
}

export async function enqueueAfterHook(env: Env, task: Omit<Extract<PluginTask, { kind: "after" }>, "kind">) {
  await env.PLUGIN_TASKS.send({ kind: "after", ...task } satisfies PluginTask, {
    contentType: "json",
    delaySeconds: retrySeconds(env),
  });
}

export async function enqueueEventTasks(env: Env, tasks: Extract<PluginTask, { kind: "event" }>[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += 100) {
    await env.PLUGIN_TASKS.sendBatch(tasks.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const })));
  }
}

function isTask(body: unknown): body is PluginTask {
  const b = body as Partial<PluginTask> | null;
  return typeof b === "object" && b !== null && typeof b.tenantId === "string" && typeof b.pluginId === "string";
}

/** Runs one task; true when done (or moot: the tenant, plugin or enablement is gone), throws to retry. */
async function runTask(env: Env, task: PluginTask): Promise<void> {
  const plugin = pluginRegistry().get(task.pluginId);
  const tenant = await tenantById(env, task.tenantId);
  if (!plugin || !tenant || !planIncludes(tenant.plan, "plugins")) return;
  const ctx = await systemContext(env, tenant, { actorId: `plugin:${plugin.id}`, requestId: newId("req") });
  const settings = await findSettings(ctx.db, plugin.id);
  // disabled since: its work is dropped, as a disabled plugin's hooks do not run
  if (settings?.enabled !== 1) return;
  const pctx = await pluginContext(ctx, plugin, settings);
  if (task.kind === "after") {
    await plugin.hooks?.[task.operation]?.after?.(task.input as never, pctx);
    return;
  }
  const handler = plugin.events?.[task.event.type];
  if (!handler) return;
  const done = await ctx.db
    .prepare("SELECT 1 FROM plugin_event_receipts WHERE plugin_id = ? AND event_id = ?")
    .bind(plugin.id, task.event.id)
    .first();
  if (done) return;
  await handler(task.event, pctx);
  await ctx.db
    .prepare("INSERT OR IGNORE INTO plugin_event_receipts (plugin_id, event_id, handled_at) VALUES (?, ?, ?)")
    .bind(plugin.id, task.event.id, new Date().toISOString())
    .run();
}

/** The `uom-plugin-tasks` consumer. */
export async function consumePluginTasks(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  for (const message of messages) {
    if (!isTask(message.body)) {
      message.ack();
      continue;
    }
    try {
      await runTask(env, message.body);
      message.ack();
    } catch (error) {
      logPluginFailure(
        env,
        message.body.pluginId,
        message.body.tenantId,
        `plugin ${message.body.kind} task failed`,
        error,
      );
      message.retry({ delaySeconds: retrySeconds(env) });
    }
  }
}

/** The dead-letter queue: a task that failed every retry is logged (never silently lost) and acknowledged. */
export function consumeDeadPluginTasks(env: Env, messages: readonly Message<unknown>[]): void {
  for (const message of messages) {
    if (env.LOG_LEVEL !== "silent") {
      const task = isTask(message.body) ? message.body : null;
      console.error(
        JSON.stringify({
          level: "error",
          msg: "plugin task dead-lettered",
          id: message.id,
          plugin: task?.pluginId,
          tenantId: task?.tenantId,
          kind: task?.kind,
          ...(task?.kind === "event" ? { eventId: task.event.id, eventType: task.event.type } : {}),
          ...(task?.kind === "after" ? { operation: task.operation } : {}),
        }),
      );
    }
    message.ack();
  }
}
