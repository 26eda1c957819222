import {
  definePlugin,
  type EventMessage,
  type PluginContext,
  type PluginUser,
  pluginProblem,
  signedHeaders,
  z,
} from "../../src/core/plugins";

/**
 * crm-sync: pushes user changes to a CRM's HTTP endpoint with a field mapping. Built only on the public plugin API:
 * an events handler (user.created / updated / deleted, run from the plugin-tasks queue, so a failed push is retried),
 * the users API (reading with the plugin's grants), the guarded fetch, and one route to push a user on demand.
 */

const FIELD =
  /^(id|email|username|name|phone|status|roles|externalId|emailVerified|createdAt|updatedAt|attributes\.[A-Za-z][A-Za-z0-9_]*)$/;

const ConfigSchema = z.object({
  url: z.url().max(2048),
  /** A Standard Webhooks secret (`whsec_…`): the push is signed with it when set. */
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, "A Standard Webhooks secret: whsec_ then base64.")
    .optional(),
  /** Our field (`email`, `attributes.plan`) → the CRM's field name. */
  fieldMap: z
    .record(z.string().regex(FIELD, "A user field: email, name, … or attributes.<name>."), z.string().min(1).max(100))
    .refine((map) => Object.keys(map).length > 0, "Map at least one field."),
});
type Config = z.infer<typeof ConfigSchema>;

const EVENTS = ["user.created", "user.updated", "user.deleted", "user.restored", "user.purged"] as const;

function valueAt(user: PluginUser, path: string): unknown {
  if (path.startsWith("attributes.")) return user.attributes[path.slice("attributes.".length)] ?? null;
  return (user as unknown as Record<string, unknown>)[path] ?? null;
}

/** The CRM's fields of a user, as the mapping says; a field the plugin may not read is left out. */
export function mapFields(user: PluginUser, fieldMap: Record<string, string>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [ours, theirs] of Object.entries(fieldMap)) {
    const top = ours.split(".")[0] as string;
    if (top !== "attributes" && !(top in user)) continue;
    fields[theirs] = valueAt(user, ours);
  }
  return fields;
}

async function push(ctx: PluginContext<Config>, type: string, messageId: string, userId: string): Promise<void> {
  const user = await ctx.users.get(userId);
  const body = JSON.stringify({
    type,
    userId,
    deleted: user === null || user.status === "deleted",
    fields: user ? mapFields(user, ctx.config.fieldMap) : {},
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (ctx.config.secret) Object.assign(headers, await signedHeaders(ctx.config.secret, messageId, body));
  const response = await ctx.fetch(ctx.config.url, { method: "POST", headers, body, timeoutMs: 10_000 });
  await response.body?.cancel();
  // anything but 2xx is a failure: the queue tries again later
  if (response.status < 200 || response.status > 299) throw new Error(`the CRM answered HTTP ${response.status}`);
}

async function onUserEvent(event: EventMessage, ctx: PluginContext<Config>): Promise<void> {
  if (!event.subjectId) return;
  // the event id as webhook-id: the CRM can drop a push it already has (the queue delivers at least once)
  await push(ctx, event.type, event.id, event.subjectId);
}

export const crmSync = definePlugin({
  id: "crm-sync",
  version: "1.0.0",
  description: "Pushes user changes to a CRM's HTTP endpoint with a field mapping (signed when a secret is set).",
  permissions: { "plugins.crm-sync:sync": "Push a user to the CRM now (POST /v1/plugins/crm-sync/sync)." },
  grants: ["users:read", "users.email:read", "users.phone:read", "users.attributes.*:read"],
  config: { schema: ConfigSchema, secrets: ["secret"] },
  events: Object.fromEntries(EVENTS.map((type) => [type, onUserEvent])),
  routes: [
    {
      method: "post",
      path: "/sync",
      summary: "Push one user to the CRM now",
      description: "Reads the user and POSTs its mapped fields to the configured URL; 502 when the CRM refuses.",
      access: { credential: "tenant", permission: "plugins.crm-sync:sync" },
      body: z
        .object({ userId: z.string().min(1).max(64) })
        .openapi("CrmSyncRequest", { example: { userId: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" } }),
      responses: {
        200: {
          description: "Pushed",
          content: {
            "application/json": {
              schema: z
                .object({ pushed: z.literal(true), userId: z.string() })
                .openapi({ example: { pushed: true, userId: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" } }),
            },
          },
        },
      },
      async handler(request, ctx) {
        const { userId } = request.body as { userId: string };
        if (!(await ctx.users.get(userId))) throw pluginProblem(404, `No user ${userId}.`);
        try {
          await push(ctx, "user.sync", `msg_${crypto.randomUUID()}`, userId);
        } catch (error) {
          throw pluginProblem(502, `The push failed: ${error instanceof Error ? error.message : "unknown error"}.`);
        }
        return Response.json({ pushed: true, userId });
      },
    },
  ],
});
