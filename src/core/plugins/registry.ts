import { isGrantSyntax } from "../auth/grants";
import { PERMISSIONS } from "../auth/permissions";
import { type AnyPlugin, HOOK_OPERATIONS, type HookOperation } from "./define";
import { pluginRoutePath } from "./routes";
import { schemaProblems } from "./store";

/**
 * The registry of compile-time plugins, built once when the worker loads (src/plugins.config.ts). Building it checks
 * every plugin and throws on the first set of conflicts, so a bad plugin list never serves a request.
 */

const PLUGIN_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const ROUTE_PATH = /^(\/([a-z0-9][a-z0-9._-]*|\{[A-Za-z][A-Za-z0-9]*\}))+$/;
const VERSION = /^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;

/** A route of the app, as `METHOD /path/{param}`. */
export interface RouteKey {
  method: string;
  path: string;
}

export interface PluginRegistry {
  readonly plugins: readonly AnyPlugin[];
  get(id: string): AnyPlugin | undefined;
  /** The plugins with a before- or after-hook of the operation, in registration order. */
  hooked(operation: HookOperation, phase: "before" | "after"): readonly AnyPlugin[];
  /** The plugins handling an event type. */
  handling(eventType: string): readonly AnyPlugin[];
  /** Every permission plugins add, with its description. */
  readonly permissions: ReadonlyMap<string, string>;
  /** The same registry, once its routes are checked against the app's core routes (throws on a conflict). */
  withCoreRoutes(core: readonly RouteKey[]): PluginRegistry;
}

/** The routes of an app's OpenAPI registry (`openAPIRegistry.definitions`). */
export function coreRouteKeys(definitions: readonly unknown[]): RouteKey[] {
  return definitions.flatMap((definition) => {
    const { type, route } = definition as { type?: string; route?: { method?: string; path?: string } };
    return type === "route" && route?.method && route.path ? [{ method: route.method, path: route.path }] : [];
  });
}

/** Whether two route templates can match the same request path (`{x}` matches any one segment). */
function overlaps(a: RouteKey, b: RouteKey): boolean {
  if (a.method.toUpperCase() !== b.method.toUpperCase()) return false;
  const sa = a.path.split("/");
  const sb = b.path.split("/");
  if (sa.length !== sb.length) return false;
  return sa.every((s, i) => s === sb[i] || s.startsWith("{") || (sb[i] ?? "").startsWith("{"));
}

function checkPlugin(plugin: AnyPlugin, core: readonly RouteKey[], taken: RouteKey[]): string[] {
  const problems: string[] = [];
  const at = (message: string) => problems.push(`plugin ${plugin.id}: ${message}`);
  if (!PLUGIN_ID.test(plugin.id)) at("the id must be lowercase kebab-case");
  if (!VERSION.test(plugin.version)) at(`version '${plugin.version}' is not a semantic version`);
  for (const operation of Object.keys(plugin.hooks ?? {})) {
    if (!(HOOK_OPERATIONS as readonly string[]).includes(operation)) {
      at(`unknown hook operation '${operation}' (known: ${HOOK_OPERATIONS.join(", ")})`);
    }
  }
  for (const [permission] of Object.entries(plugin.permissions ?? {})) {
    if ((PERMISSIONS as readonly string[]).includes(permission)) at(`permission ${permission} is a core permission`);
    else if (!isGrantSyntax(permission) || permission.includes("*")) at(`'${permission}' is not a permission`);
    else if (!permission.startsWith(`plugins.${plugin.id}:`) && !permission.startsWith(`plugins.${plugin.id}.`)) {
      at(`permission ${permission} must be namespaced plugins.${plugin.id}`);
    }
  }
  for (const grant of plugin.grants ?? []) if (!isGrantSyntax(grant)) at(`'${grant}' is not a grant`);
  for (const route of plugin.routes ?? []) {
    if (!ROUTE_PATH.test(route.path)) at(`route path '${route.path}' must be like /name or /name/{param}`);
    if (route.access.credential === "tenant") {
      const permission = route.access.permission;
      if (!(PERMISSIONS as readonly string[]).includes(permission) && !plugin.permissions?.[permission]) {
        at(
          `route ${route.method.toUpperCase()} ${route.path} needs ${permission}, which neither core nor the plugin declares`,
        );
      }
    }
    const key = { method: route.method, path: pluginRoutePath(plugin.id, route.path) };
    const clash = [...core, ...taken].find((other) => overlaps(key, other));
    if (clash)
      at(`route ${key.method.toUpperCase()} ${key.path} conflicts with ${clash.method.toUpperCase()} ${clash.path}`);
    taken.push(key);
  }
  for (const problem of schemaProblems(plugin.id, plugin.schema ?? [])) at(problem);
  for (const secret of plugin.config.secrets ?? []) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(secret)) at(`config secret '${secret}' must be a top-level member name`);
  }
  return problems;
}

/**
 * Checks the plugins (ids, versions, hook operation ids, permissions, routes against each other and against the core
 * routes, schemas) and returns their registry; throws an Error listing every problem.
 */
export function buildPluginRegistry(
  plugins: readonly AnyPlugin[],
  coreRoutes: readonly RouteKey[] = [],
): PluginRegistry {
  const problems: string[] = [];
  const byId = new Map<string, AnyPlugin>();
  const permissions = new Map<string, string>();
  const taken: RouteKey[] = [];
  for (const plugin of plugins) {
    if (byId.has(plugin.id)) problems.push(`plugin ${plugin.id}: registered twice`);
    byId.set(plugin.id, plugin);
    problems.push(...checkPlugin(plugin, coreRoutes, taken));
    for (const [permission, description] of Object.entries(plugin.permissions ?? {})) {
      if (permissions.has(permission)) problems.push(`plugin ${plugin.id}: permission ${permission} declared twice`);
      permissions.set(permission, description);
    }
  }
  if (problems.length > 0) throw new Error(`plugin registry refused:\n- ${problems.join("\n- ")}`);
  const registry: PluginRegistry = {
    plugins,
    permissions,
    withCoreRoutes: (core) => {
      buildPluginRegistry(plugins, core);
      return registry;
    },
    get: (id) => byId.get(id),
    hooked: (operation, phase) => plugins.filter((p) => p.hooks?.[operation]?.[phase] !== undefined),
    handling: (type) => plugins.filter((p) => p.events?.[type] !== undefined),
  };
  return registry;
}
