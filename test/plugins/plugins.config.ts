import { crmSync } from "../../plugins/crm-sync";
import { oidcLogin } from "../../plugins/oidc-login";
import { definePlugin, rejectOperation, z } from "../../src/core/plugins";
import type { AnyPlugin } from "../../src/core/plugins/define";

/**
 * The workers project's registration file (vitest.config.ts swaps it in for src/plugins.config.ts): the first-party
 * plugins, then plugins that exist to prove the plugin API — real plugins on the public API, inert for every tenant
 * that does not enable them. Their routes have no path parameters, so the security walks cover them as they are.
 */

const LOG_TABLE = {
  version: 1,
  statements: [
    `CREATE TABLE plugin_test_shape_log (
       id INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, ref TEXT NOT NULL, at TEXT NOT NULL)`,
    "CREATE INDEX plugin_test_shape_log_ref_idx ON plugin_test_shape_log (ref)",
  ],
};

/** Changes and refuses operations, records its after-hooks and events, and shows what its context holds. */
const testShape = definePlugin({
  id: "test-shape",
  version: "1.0.0",
  description: "Test plugin: before-hooks that change or refuse, after-hooks and events recorded in its own table.",
  grants: ["users:read", "users:write", "users.email:read"],
  config: {
    schema: z.object({ suffix: z.string().max(20).default("a"), token: z.string().min(8).optional() }),
    secrets: ["token"],
  },
  schema: [LOG_TABLE],
  hooks: {
    "user.create": {
      before({ user }, ctx) {
        if (user.attributes.blockMe === true) throw rejectOperation("Blocked by test-shape.");
        const stamp = `${typeof user.attributes.stamp === "string" ? user.attributes.stamp : ""}${ctx.config.suffix}`;
        const name = user.email.endsWith("@shout.test") && user.name ? user.name.toUpperCase() : user.name;
        return { user: { ...user, name, attributes: { ...user.attributes, stamp } } };
      },
      async after({ userId }, ctx) {
        await ctx.db.table("log").insert({ op: "user.create.after", ref: userId, at: new Date().toISOString() });
      },
    },
    "user.update": {
      before({ patch }) {
        const attributes = patch.attributes;
        if (typeof attributes === "object" && attributes !== null && "locked" in attributes) {
          throw rejectOperation("The locked attribute is managed by test-shape.");
        }
      },
    },
    "user.delete": {
      async before({ userId }, ctx) {
        const user = await ctx.users.get(userId);
        if (user?.attributes.undeletable === true) throw rejectOperation("This user may not be deleted.");
      },
    },
    "user.login": {
      before({ user }) {
        if (user.attributes.loginBlocked === true) throw rejectOperation("Sign-in blocked by test-shape.");
        return { attributes: { lastLoginVia: "test-shape" } };
      },
    },
  },
  events: {
    async "user.created"(event, ctx) {
      await ctx.db.table("log").insert({ op: `event:${event.type}`, ref: event.id, at: new Date().toISOString() });
    },
  },
});

/**
 * A route and nothing else (no hooks, no events: enabling it changes nothing in the background), so the security
 * walks can reach a plugin route with every credential (test/helpers/security.ts enables it for tenant a).
 */
const testRoute = definePlugin({
  id: "test-route",
  version: "1.0.0",
  description: "Test plugin: a route that shows what the plugin's context holds.",
  permissions: { "plugins.test-route:read": "Read what the test plugin's context holds." },
  config: { schema: z.object({ token: z.string().min(8).optional() }), secrets: ["token"] },
  schema: [{ version: 1, statements: ["CREATE TABLE plugin_test_route_notes (id TEXT PRIMARY KEY, note TEXT)"] }],
  routes: [
    {
      method: "get",
      path: "/context",
      summary: "What the plugin's context holds",
      access: { credential: "tenant", permission: "plugins.test-route:read" },
      responses: {
        200: {
          description: "The context's members",
          content: { "application/json": { schema: z.object({}).openapi({ example: { keys: ["config"] } }) } },
        },
      },
      async handler(_request, ctx) {
        const reach = async (name: string) => {
          try {
            await ctx.db.table(name).get({});
            return "read";
          } catch (error) {
            return error instanceof Error ? error.message : String(error);
          }
        };
        return Response.json({
          keys: Object.keys(ctx).sort(),
          tenantId: ctx.tenantId,
          config: ctx.config,
          hasEnv:
            "env" in ctx || Object.values(ctx).some((v) => typeof v === "object" && v !== null && "MASTER_KEY" in v),
          ownTable: await reach("notes"),
          usersTable: await reach("users"),
          injected: await reach("notes; DROP TABLE users"),
          sealed: await ctx.open(await ctx.seal("round trip")),
        });
      },
    },
  ],
});

/** Runs after test-shape: proves the order (its stamp comes second). */
const testSecond = definePlugin({
  id: "test-second",
  version: "0.1.0",
  description: "Test plugin: a second user.create before-hook.",
  config: { schema: z.object({}) },
  hooks: {
    "user.create": {
      before({ user }) {
        const stamp = `${typeof user.attributes.stamp === "string" ? user.attributes.stamp : ""}b`;
        return { user: { ...user, attributes: { ...user.attributes, stamp } } };
      },
    },
  },
});

/** An after-hook that fails the first time for each user, then succeeds: proves the retry through the queue. */
const testFlaky = definePlugin({
  id: "test-flaky",
  version: "0.1.0",
  description: "Test plugin: an after-hook that fails once per user.",
  config: { schema: z.object({}) },
  schema: [
    {
      version: 1,
      statements: ["CREATE TABLE plugin_test_flaky_attempts (user_id TEXT NOT NULL, attempt INTEGER NOT NULL)"],
    },
  ],
  hooks: {
    "user.create": {
      async after({ userId }, ctx) {
        const attempts = ctx.db.table("attempts");
        const seen = await attempts.list({ user_id: userId });
        await attempts.insert({ user_id: userId, attempt: seen.length + 1 });
        if (seen.length === 0) throw new Error("the first attempt fails");
      },
    },
  },
});

export const PLUGINS: readonly AnyPlugin[] = [crmSync, oidcLogin, testShape, testSecond, testFlaky, testRoute];
