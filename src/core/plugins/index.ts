/**
 * The public plugin API: everything a plugin (plugins/<id>/) may import. Plugins import nothing else from src/.
 */
export { z } from "@hono/zod-openapi";
export type { EventMessage } from "../events/dispatch";
export type { Json } from "../http/merge-patch";
export { newSigningSecret, signedHeaders } from "../http/standard-webhooks";
export {
  type AfterInputs,
  type BeforeInputs,
  type BeforeResults,
  definePlugin,
  HOOK_OPERATIONS,
  type HookOperation,
  type NewUserInput,
  type PluginContext,
  type PluginDefinition,
  type PluginSessions,
  type PluginSignIn,
  type PluginUser,
} from "./define";
export { pluginProblem, rejectOperation } from "./errors";
export type { PluginRequest, PluginRouteDefinition } from "./routes";
export type { PluginStore, PluginTable, Row } from "./store";
