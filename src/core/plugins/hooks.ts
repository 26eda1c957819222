import { z } from "@hono/zod-openapi";
import type { TenantRef } from "../../env";
import { CreateUserSchema } from "../../modules/users/users.schema";
import type { ServiceContext } from "../context";
import { ApiError } from "../errors";
import type { Json } from "../http/merge-patch";
import { planIncludes } from "../plans";
import { pluginRegistry } from "./active";
import { logPluginFailure, pluginContext } from "./context";
import type { AfterInputs, AnyPlugin, BeforeInputs, BeforeResults, HookOperation } from "./define";
import { PluginErrors } from "./errors";
import { RUNTIME_HOOK_SOURCES } from "./runtime-hooks";
import { enabledSettings, type PluginSettingsRow } from "./settings";
import { enqueueAfterHook } from "./tasks";

/**
 * The hook runner: the one place hooks run. Before-hooks run in the request before anything is written — the
 * enabled plugins' in registration order, then the run-time hooks (the tenant's HTTP actions) — each seeing the input
 * as the previous one left it. After-hooks run once the change is committed (in waitUntil); a failure is logged and
 * handed to the plugin-tasks queue, never undoing the change.
 */

/** One before-hook ready to run: a plugin's, or one registered at run time (an HTTP action). */
export interface BeforeStep<O extends HookOperation> {
  name: string;
  run(input: BeforeInputs[O]): Promise<BeforeResults[O] | undefined | undefined>;
}

/** Hooks registered at run time, per tenant (HTTP actions): asked for their steps of an operation. */
export interface RuntimeHookSource {
  before<O extends HookOperation>(ctx: ServiceContext & { tenant: TenantRef }, operation: O): Promise<BeforeStep<O>[]>;
}

const HookUserSchema = CreateUserSchema.omit({ password: true });

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The input after one hook's result; a result that is not what the operation takes is the hook's failure. */
function applied<O extends HookOperation>(
  operation: O,
  input: BeforeInputs[O],
  result: BeforeResults[O] | undefined,
  changes: Record<string, Json>,
): BeforeInputs[O] {
  if (result === undefined || result === null) return input;
  switch (operation) {
    case "user.create": {
      const parsed = HookUserSchema.safeParse((result as BeforeResults["user.create"]).user);
      if (!parsed.success) throw new Error(`the changed user is not valid: ${z.prettifyError(parsed.error)}`);
      return { user: parsed.data } as BeforeInputs[O];
    }
    case "user.update": {
      const patch = (result as BeforeResults["user.update"]).patch;
      if (!isRecord(patch)) throw new Error("the changed patch is not an object");
      return { ...(input as BeforeInputs["user.update"]), patch } as BeforeInputs[O];
    }
    case "user.login": {
      const attributes = (result as BeforeResults["user.login"]).attributes;
      if (!isRecord(attributes)) throw new Error("attributes must be an object");
      Object.assign(changes, attributes);
      const login = input as BeforeInputs["user.login"];
      return { user: { ...login.user, attributes: { ...login.user.attributes, ...attributes } } } as BeforeInputs[O];
    }
    default:
      return input;
  }
}

async function enabledHooked(
  ctx: ServiceContext & { tenant: TenantRef },
  operation: HookOperation,
  phase: "before" | "after",
): Promise<{ plugin: AnyPlugin; settings: PluginSettingsRow }[]> {
  if (!planIncludes(ctx.tenant.plan, "plugins")) return [];
  const hooked = pluginRegistry().hooked(operation, phase);
  if (hooked.length === 0) return [];
  const rows = await enabledSettings(
    ctx.db,
    hooked.map((p) => p.id),
  );
  return hooked.flatMap((plugin) => {
    const settings = rows.find((row) => row.plugin_id === plugin.id);
    return settings ? [{ plugin, settings }] : [];
  });
}

function pluginSteps<O extends HookOperation>(
  ctx: ServiceContext & { tenant: TenantRef },
  operation: O,
  plugins: { plugin: AnyPlugin; settings: PluginSettingsRow }[],
): BeforeStep<O>[] {
  return plugins.map(({ plugin, settings }) => ({
    name: `plugin ${plugin.id}`,
    async run(input) {
      const hook = plugin.hooks?.[operation]?.before;
      if (!hook) return undefined;
      const pctx = await pluginContext(ctx, plugin, settings);
      const request = { ip: ctx.request.ip, userAgent: ctx.request.userAgent };
      return (await hook(input as never, { ...pctx, request })) as BeforeResults[O] | undefined;
    },
  }));
}

export type BeforeRunner<O extends HookOperation> = ((
  input: BeforeInputs[O],
) => Promise<{ input: BeforeInputs[O]; attributes: Record<string, Json> }>) & {
  /** How many hooks will run: none lets the caller skip preparing their input. */
  size: number;
};

/**
 * The before-hooks of an operation for this tenant, loaded once (one query for the enabled plugins, one per run-time
 * source), as a function that runs them on an input: it returns the input as the hooks left it and (for a login) the
 * attributes they asked to merge, or throws the problem a hook refused with (HOOK_REJECTED, ACTION_DENIED,
 * ACTION_UNAVAILABLE) — or PLUGIN_HOOK_FAILED when a plugin's hook broke. A bulk request loads them once for all items.
 */
export async function prepareBeforeHooks<O extends HookOperation>(
  ctx: ServiceContext,
  operation: O,
): Promise<BeforeRunner<O>> {
  const tenant = ctx.tenant;
  if (!tenant) return Object.assign(async (input: BeforeInputs[O]) => ({ input, attributes: {} }), { size: 0 });
  const scoped = { ...ctx, tenant };
  const [plugins, ...runtime] = await Promise.all([
    enabledHooked(scoped, operation, "before"),
    ...RUNTIME_HOOK_SOURCES.map((source) => source.before(scoped, operation)),
  ]);
  const steps = [...pluginSteps(scoped, operation, plugins), ...runtime.flat()];
  const run = async (input: BeforeInputs[O]) => {
    const changes: Record<string, Json> = {};
    let current = input;
    for (const step of steps) {
      try {
        current = applied(operation, current, (await step.run(current)) ?? undefined, changes);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        logPluginFailure(ctx.env, step.name, tenant.id, `${operation} before-hook failed`, error);
        throw new ApiError(PluginErrors.PLUGIN_HOOK_FAILED, {
          detail: `The ${operation} hook of ${step.name} failed; nothing was changed.`,
          extensions: { hook: step.name },
        });
      }
    }
    return { input: current, attributes: changes };
  };
  return Object.assign(run, { size: steps.length });
}

/** Runs the before-hooks of one operation (prepareBeforeHooks, once). */
export async function runBeforeHooks<O extends HookOperation>(
  ctx: ServiceContext,
  operation: O,
  input: BeforeInputs[O],
): Promise<{ input: BeforeInputs[O]; attributes: Record<string, Json> }> {
  return (await prepareBeforeHooks(ctx, operation))(input);
}

/**
 * Runs the after-hooks of a committed operation. Meant for `waitUntil`: it never throws; a hook that fails is retried
 * through the plugin-tasks queue.
 */
export async function runAfterHooks<O extends HookOperation>(
  ctx: ServiceContext,
  operation: O,
  inputs: AfterInputs[O] | readonly AfterInputs[O][],
): Promise<void> {
  const list: readonly AfterInputs[O][] = Array.isArray(inputs) ? inputs : [inputs as AfterInputs[O]];
  const tenant = ctx.tenant;
  if (!tenant || list.length === 0) return;
  const scoped = { ...ctx, tenant };
  let plugins: { plugin: AnyPlugin; settings: PluginSettingsRow }[];
  try {
    plugins = await enabledHooked(scoped, operation, "after");
  } catch (error) {
    logPluginFailure(ctx.env, "(registry)", tenant.id, `${operation} after-hooks not run`, error);
    return;
  }
  for (const { plugin, settings } of plugins) {
    const hook = plugin.hooks?.[operation]?.after;
    if (!hook) continue;
    const pctx = await pluginContext(scoped, plugin, settings).catch(() => null);
    for (const input of list) {
      try {
        if (!pctx) throw new Error("the plugin's context could not be built");
        await hook(input as never, pctx);
      } catch (error) {
        logPluginFailure(
          ctx.env,
          plugin.id,
          tenant.id,
          `${operation} after-hook failed; retried from the queue`,
          error,
        );
        await enqueueAfterHook(ctx.env, { tenantId: tenant.id, pluginId: plugin.id, operation, input }).catch(
          (sendError: unknown) =>
            logPluginFailure(ctx.env, plugin.id, tenant.id, "after-hook retry not queued", sendError),
        );
      }
    }
  }
}
