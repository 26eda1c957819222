import type { TenantRef } from "../../env";
import { auditStatement } from "../../modules/audit/audit.service";
import { clientAcceptsCodes, signInWithCode } from "../../modules/oauth/authorization-codes";
import { fieldAccess } from "../../modules/users/users.fields-access";
import { findUserByLogin } from "../../modules/users/users.lookup";
import type { User } from "../../modules/users/users.schema";
import * as users from "../../modules/users/users.service";
import { Grants } from "../auth/grants";
import type { ServiceContext } from "../context";
import { open, seal } from "../crypto/sealed-box";
import { loggableError } from "../http/error-handler";
import type { Json } from "../http/merge-patch";
import { guardedFetch } from "../http/outbound";
import type { AnyPlugin, PluginContext, PluginLog, PluginSessions, PluginUser, PluginUsers } from "./define";
import { openConfig, type PluginSettingsRow } from "./settings";
import { ensurePluginSchema, pluginStore } from "./store";

const DATA_PURPOSE = "uom/plugin-data/v1";

/**
 * The service context a plugin's own work runs in: the tenant's database, the plugin as the actor (audit rows name
 * `plugin:<id>`), and the plugin's declared grants as its permissions, so the users service checks them like any
 * credential's (field grants included).
 */
export function pluginServiceContext(base: ServiceContext, plugin: AnyPlugin): ServiceContext {
  const permissions = new Grants([...(plugin.grants ?? [])]);
  return {
    ...base,
    actor: { type: "system", id: `plugin:${plugin.id}` },
    permissions,
    accountRights: () => Grants.NONE,
  };
}

/** A user of the users service as plugins see it. */
export function toPluginUser(user: Partial<User> & Pick<User, "id">): PluginUser {
  return {
    id: user.id,
    ...(user.email !== undefined ? { email: user.email } : {}),
    ...(user.phone !== undefined ? { phone: user.phone } : {}),
    username: user.username ?? null,
    name: user.name ?? null,
    status: user.status ?? "active",
    attributes: user.attributes ?? {},
    roles: user.roles ?? [],
    externalId: user.externalId ?? null,
    emailVerified: user.emailVerified ?? false,
    createdAt: user.createdAt ?? "",
    updatedAt: user.updatedAt ?? "",
  };
}

function usersApi(ctx: ServiceContext): PluginUsers {
  const shown = async (user: User) => toPluginUser((await fieldAccess(ctx)).present(user));
  return {
    async get(id) {
      try {
        return await shown((await users.getUser(ctx, id, true)).user);
      } catch (error) {
        if (error instanceof Error && "code" in error && error.code === "USER_NOT_FOUND") return null;
        throw error;
      }
    },
    async findByEmail(email) {
      if (!ctx.permissions?.has("users.email:read")) throw new Error("findByEmail needs the grant users.email:read");
      if (!email.includes("@")) return null;
      const found = await findUserByLogin(ctx, email);
      return found ? shown((await users.getUser(ctx, found.id, false)).user) : null;
    },
    async create(input) {
      const { user } = await users.createUser(ctx, { status: "active", attributes: {}, roles: [], ...input });
      return shown(user);
    },
    async update(id, patch) {
      return shown((await users.updateUser(ctx, id, patch as Json, undefined)).user);
    },
    async identityLinked(id, identity) {
      const statement = await auditStatement(ctx, {
        action: "user.identity_linked",
        resource: { type: "user", id },
        changes: { identity: { from: null, to: identity } },
      });
      await ctx.db.batch([statement]);
    },
  };
}

/**
 * Sign-ins: run as the plugin (the audit rows name it) but without its grants, like a password login, so that
 * attributes a user.login hook sets are written whatever the plugin may read.
 */
function sessionsApi(base: ServiceContext, plugin: AnyPlugin): PluginSessions {
  const ctx: ServiceContext = { ...base, actor: { type: "system", id: `plugin:${plugin.id}` } };
  delete ctx.permissions;
  delete ctx.accountRights;
  return {
    acceptsClient: (clientId) => clientAcceptsCodes(base.env, base.scope, clientId),
    signIn: (signIn) => signInWithCode(ctx, signIn),
  };
}

function pluginLog(env: Env, pluginId: string, tenantId: string): PluginLog {
  const write = (level: "info" | "warn" | "error", msg: string, data?: Record<string, unknown>) => {
    if (env.LOG_LEVEL === "silent" || (level === "info" && env.LOG_LEVEL !== "info")) return;
    const entry = JSON.stringify({ level, msg, plugin: pluginId, tenantId, ...data });
    if (level === "error") console.error(entry);
    else console.log(entry);
  };
  return {
    info: (msg, data) => write("info", msg, data),
    warn: (msg, data) => write("warn", msg, data),
    error: (msg, data) => write("error", msg, data),
  };
}

/** Logs a plugin's failure without its values (an error's message may hold what the plugin was given). */
export function logPluginFailure(env: Env, plugin: string, tenantId: string, msg: string, error: unknown): void {
  pluginLog(env, plugin, tenantId).error(msg, { error: loggableError(error) });
}

/**
 * The narrowed context of a plugin for one tenant: never `env`. `base` is the tenant's service context (a request's,
 * or a queue task's system context).
 */
export async function pluginContext(
  base: ServiceContext & { tenant: TenantRef },
  plugin: AnyPlugin,
  settings: PluginSettingsRow,
): Promise<PluginContext> {
  const { env, tenant } = base;
  const ctx = pluginServiceContext(base, plugin);
  const bound = `${tenant.id}:${plugin.id}`;
  const ready = () =>
    ensurePluginSchema(
      { binding: tenant.databaseBinding, tenantId: tenant.id },
      base.db,
      plugin.id,
      plugin.schema ?? [],
    );
  return {
    pluginId: plugin.id,
    tenantId: tenant.id,
    // parsed again, so the handler gets the schema's defaults and types
    config: plugin.config.schema.parse(await openConfig(env, tenant.id, settings)),
    db: pluginStore(base.db, plugin.id, ready),
    users: usersApi(ctx),
    sessions: sessionsApi(base, plugin),
    fetch: (url, init) => guardedFetch(env.ENVIRONMENT, url, init),
    log: pluginLog(env, plugin.id, tenant.id),
    seal: (value) => seal(env.MASTER_KEY, DATA_PURPOSE, bound, value),
    open: (sealed) => open(env.MASTER_KEY, DATA_PURPOSE, bound, sealed),
  };
}
