import { PLUGINS } from "../../plugins.config";
import { buildPluginRegistry, type PluginRegistry } from "./registry";

let registry: PluginRegistry | undefined;

/**
 * The registry of src/plugins.config.ts, built on first use (the app builds it when the worker loads, with the core
 * routes to check plugin routes against: src/app.ts), and the same for the whole isolate.
 */
export function pluginRegistry(): PluginRegistry {
  registry ??= buildPluginRegistry(PLUGINS);
  return registry;
}
