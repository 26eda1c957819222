import type { z } from "@hono/zod-openapi";
import type { EventMessage } from "../events/dispatch";
import type { Json } from "../http/merge-patch";
import type { PluginRouteDefinition } from "./routes";
import type { PluginStore } from "./store";

/**
 * The public plugin API (docs/plugins.md). A plugin is one declarative object, registered at compile time in
 * src/plugins.config.ts; the registry (registry.ts) checks every plugin when the worker loads and refuses to start on
 * a conflict. A plugin never sees the worker's `env`: each handler gets a {@link PluginContext} narrowed to one
 * tenant, the plugin's own tables, the users service with the plugin's grants, and a guarded `fetch`.
 */

/** The operations a plugin may hook, by id (never by path: a user created through SCIM or bulk is the same op). */
export const HOOK_OPERATIONS = ["user.create", "user.update", "user.delete", "user.login"] as const;
export type HookOperation = (typeof HOOK_OPERATIONS)[number];

/** A user to be created, as the caller asked (the password is never shown to a hook). */
export interface NewUserInput {
  email: string;
  username?: string | null | undefined;
  name?: string | null | undefined;
  phone?: string | null | undefined;
  status: "active" | "disabled";
  attributes: Record<string, Json>;
  roles: string[];
  externalId?: string | null | undefined;
}

/** A user as the plugin's grants let it read it (fields it may not read are absent). */
export interface PluginUser {
  id: string;
  email?: string | undefined;
  username: string | null;
  name: string | null;
  phone?: string | null | undefined;
  status: "active" | "disabled" | "deleted";
  attributes: Record<string, unknown>;
  roles: string[];
  externalId: string | null;
  emailVerified: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What a before-hook of each operation is given. */
export interface BeforeInputs {
  "user.create": { user: NewUserInput };
  /** `patch` is the JSON merge patch (RFC 7396) the caller sent. */
  "user.update": { userId: string; patch: Record<string, Json> };
  "user.delete": { userId: string; permanent: boolean };
  /** After the password (and second factor) were verified, before any token is issued. */
  "user.login": { user: PluginUser };
}

/**
 * What a before-hook may return to change the operation (returning nothing changes nothing): the user to create
 * instead, the patch to apply instead, custom attributes to merge into the user who signs in. A delete can only be
 * let through or refused.
 */
export interface BeforeResults {
  "user.create": { user: NewUserInput };
  "user.update": { patch: Record<string, Json> };
  "user.delete": undefined;
  "user.login": { attributes: Record<string, Json> };
}

/** What an after-hook is given: ids only, so that a retried task carries no personal data (read the user). */
export interface AfterInputs {
  "user.create": { userId: string };
  "user.update": { userId: string };
  "user.delete": { userId: string; permanent: boolean };
  "user.login": { userId: string };
}

/** The request a before-hook runs in. */
export interface HookRequest {
  ip: string | null;
  userAgent: string | null;
}

/**
 * A handler type checked bivariantly (method syntax), so that plugins of different configuration types can be held in
 * one list without widening their handlers' parameters.
 */
export type Handler<A extends unknown[], R> = { handle(...args: A): R }["handle"];

/** What a before-hook returns: the changed input, or nothing (undefined, or no return at all) to change nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that only checks has no return statement
export type BeforeResult<O extends HookOperation> = BeforeResults[O] | undefined | void;

export type BeforeHook<O extends HookOperation, C> = Handler<
  [input: BeforeInputs[O], ctx: PluginContext<C> & { request: HookRequest }],
  Promise<BeforeResult<O>> | BeforeResult<O>
>;

export type AfterHook<O extends HookOperation, C> = Handler<
  [input: AfterInputs[O], ctx: PluginContext<C>],
  Promise<void>
>;

/**
 * Hooks by operation id. A before-hook runs in the request, before anything is written, in registration order
 * (plugins in src/plugins.config.ts order, then the tenant's HTTP actions); it may change the input or refuse the
 * operation by throwing {@link rejectOperation} (403 HOOK_REJECTED, nothing written). An after-hook runs once the
 * change is committed; its failure never undoes it: it is logged and retried through the plugin-tasks queue.
 */
export type PluginHooks<C> = {
  [O in HookOperation]?: { before?: BeforeHook<O, C>; after?: AfterHook<O, C> };
};

/** Handlers of domain event types (`user.created`, …; docs/events.md), run from the plugin-tasks queue. */
export type PluginEventHandlers<C> = Record<
  string,
  Handler<[event: EventMessage, ctx: PluginContext<C>], Promise<void>>
>;

/** One schema migration of the plugin's own tables (every name `plugin_<id with _>_…`), applied once per tenant. */
export interface PluginMigration {
  version: number;
  /** CREATE TABLE / CREATE [UNIQUE] INDEX / ALTER TABLE statements, one per entry, on the plugin's tables only. */
  statements: readonly string[];
}

/** The plugin's per-tenant configuration: its zod schema and the members that are secrets (sealed at rest). */
export interface PluginConfigSpec<S extends z.ZodType> {
  schema: S;
  /** Top-level string members stored sealed under MASTER_KEY and never returned by the API. */
  secrets?: readonly string[];
}

export interface PluginUsers {
  /** The user, as the plugin's grants may read it; null when there is none (or it is purged). */
  get(id: string): Promise<PluginUser | null>;
  /** The live user with this email (verified or not), or null. */
  findByEmail(email: string): Promise<PluginUser | null>;
  /** Creates a user through the users service: validation, plan quota, hooks, audit and events all apply. */
  create(input: Omit<NewUserInput, "status" | "attributes" | "roles"> & Partial<NewUserInput>): Promise<PluginUser>;
  /** Applies a JSON merge patch through the users service. */
  update(id: string, patch: Record<string, Json>): Promise<PluginUser>;
  /**
   * Records in the audit trail (and so the event log: `user.identity_linked`) that an external identity — the
   * provider's issuer and its subject id — now signs in as this user. The plugin keeps the link in its own table.
   */
  identityLinked(id: string, identity: { issuer: string; subject: string }): Promise<void>;
}

/** A sign-in the plugin verified itself (an external provider), handed to an app of the tenant as a one-time code. */
export interface PluginSignIn {
  userId: string;
  /** The OAuth client_id of the tenant's app (a client allowed the `authorization_code` grant). */
  clientId: string;
  /** Where the app receives the code: the exchange at POST /oauth/token must name the same. */
  redirectUri: string;
  /** The app's PKCE S256 code_challenge (RFC 7636): the exchange must bring its verifier. */
  codeChallenge: string;
  /** The `user.login` event's `method` (`oidc`); lowercase, not `password…`. */
  method: string;
}

/**
 * Signing users in with the service's own tokens, without putting a token in a URL: `signIn` does what a password
 * login does (the user must be active; user.login hooks, which may refuse it; `last_login_at`; audit; the
 * `user.login` event with the method) and returns a one-time authorization code (a minute) that the app exchanges at
 * POST /oauth/token (grant_type=authorization_code) with its client credentials and PKCE verifier.
 */
export interface PluginSessions {
  /** Whether the tenant has a client with this client_id that may use the authorization_code grant. */
  acceptsClient(clientId: string): Promise<boolean>;
  signIn(signIn: PluginSignIn): Promise<{ code: string; expiresIn: number }>;
}

export interface PluginLog {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface PluginFetchInit extends RequestInit {
  /** Abort after this long (default 10 000 ms). */
  timeoutMs?: number;
}

/**
 * Everything a plugin's handler may touch, for one tenant: never the worker's `env`, never another plugin's tables.
 */
export interface PluginContext<C = unknown> {
  pluginId: string;
  tenantId: string;
  /** The tenant's configuration of the plugin, secrets opened. */
  config: C;
  /** The plugin's own tables (`db.table("identities")` is `plugin_<id>_identities`). */
  db: PluginStore;
  users: PluginUsers;
  sessions: PluginSessions;
  /** Outbound HTTP through the SSRF guard: https only (http to loopback in development), no redirects followed. */
  fetch(url: string, init?: PluginFetchInit): Promise<Response>;
  log: PluginLog;
  /** Seals and opens a value under MASTER_KEY, bound to this plugin and tenant (for tokens the plugin keeps). */
  seal(value: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

export interface PluginDefinition<S extends z.ZodType = z.ZodType, C = z.infer<S>> {
  /** Lowercase kebab-case, unique; its routes mount under `/v1/plugins/<id>/`. */
  id: string;
  /** Semantic version of the plugin, shown in GET /v1/plugins. */
  version: string;
  description: string;
  /** Permissions the plugin adds, with their descriptions: each `plugins.<id>:<action>` or `plugins.<id>.<x>:<action>`. */
  permissions?: Record<string, string>;
  /**
   * The grants the plugin's own work holds in the users service (`users:read`, `users.email:read`, …): its users API
   * is checked with these like any credential.
   */
  grants?: readonly string[];
  config: PluginConfigSpec<S>;
  routes?: readonly PluginRouteDefinition<C>[];
  hooks?: PluginHooks<C>;
  events?: PluginEventHandlers<C>;
  schema?: readonly PluginMigration[];
}

/**
 * Declares a plugin. Only checks the types; the registry checks the rest (ids, routes, permissions, hooks, schema)
 * when the worker loads.
 */
export function definePlugin<S extends z.ZodType>(definition: PluginDefinition<S>): PluginDefinition<S> {
  return definition;
}

/** A definition of any configuration type, as the registry holds it. */
export type AnyPlugin = PluginDefinition<z.ZodType, unknown>;
