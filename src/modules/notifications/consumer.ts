import { controlDb } from "../../core/db/databases";
import type { EventConsumer, EventConsumerContext } from "../../core/events/consumers";
import type { EventMessage } from "../../core/events/dispatch";
import { newId } from "../../core/ids";
import { type Plan, planIncludes } from "../../core/plans";
import { CHANNELS, type Channel, categoryOf, NEW_DEVICE_SIGN_IN, type NotifiableEvent } from "./catalogue";
import { configuredChannels } from "./channels.service";
import { DEFAULT_TEMPLATES } from "./defaults";
import { enqueueNotifications } from "./notifications.queue";
import { insertNotification, type NewNotification, queuedOf } from "./notifications.repo";

/**
 * The `notifications` event consumer: decides which messages an event makes (which user, which template, which
 * channels), writes them to the log as `queued` (idempotent: one row per event, channel and template) and puts
 * them on the NOTIFICATIONS queue, whose consumer renders and sends them (sender.ts). Only quick local work here:
 * the outside calls happen on the notifications queue, with their own retries.
 */

const TEMPLATE_OF: Record<string, NotifiableEvent> = {
  "user.created": "user.created",
  "user.email_verification_requested": "user.email_verification_requested",
  "user.password_reset_requested": "user.password_reset_requested",
  "user.activation_reminder": "user.activation_reminder",
  "user.re_engagement": "user.re_engagement",
  "user.login": NEW_DEVICE_SIGN_IN,
};

function userOf(event: EventMessage): string | null {
  const fromData = event.data.userId;
  if (typeof fromData === "string") return fromData;
  const resource = event.data.resource as { type?: string; id?: string } | undefined;
  return resource?.type === "user" && typeof resource.id === "string" ? resource.id : null;
}

async function planOf(env: Env, tenantId: string): Promise<Plan | null> {
  const row = await (await controlDb(env))
    .prepare("SELECT plan FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ plan: Plan }>();
  return row?.plan ?? null;
}

/** The (template, channel) pairs that have a template in some locale: the tenant's own or a shipped one. */
async function templatedPairs(db: D1Database): Promise<Set<string>> {
  const { results } = await db
    .prepare("SELECT DISTINCT event, channel FROM notification_templates")
    .all<{ event: string; channel: string }>();
  return new Set([
    ...results.map((row) => `${row.event}/${row.channel}`),
    ...DEFAULT_TEMPLATES.map((t) => `${t.event}/${t.channel}`),
  ]);
}

/**
 * A sign-in is from a new device when its device (a keyed hash of the user agent, set by the login) was never
 * seen for that user and another one was: a user's very first sign-in is not a security notice. The device is
 * remembered in the same batch as the messages, so a redelivered event finds it known and adds nothing.
 */
async function newDeviceSignIns(db: D1Database, events: readonly EventMessage[], at: string) {
  const remember: D1PreparedStatement[] = [];
  const isNew = new Set<string>();
  for (const event of events) {
    const userId = userOf(event);
    const device = event.data.device;
    if (event.type !== "user.login" || !userId || typeof device !== "string") continue;
    const known = await db
      .prepare("SELECT device FROM notification_devices WHERE user_id = ?")
      .bind(userId)
      .all<{ device: string }>();
    const devices = known.results.map((row) => row.device);
    if (!devices.includes(device) && devices.length > 0) isNew.add(event.id);
    remember.push(
      db
        .prepare(
          "INSERT INTO notification_devices (user_id, device, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(userId, device, at),
    );
  }
  return { remember, isNew };
}

async function consume({ env, tenantId, db }: EventConsumerContext, events: readonly EventMessage[]) {
  const relevant = events.filter((event) => Object.hasOwn(TEMPLATE_OF, event.type) && userOf(event) !== null);
  if (relevant.length === 0) return;
  const plan = await planOf(env, tenantId);
  if (!plan || !planIncludes(plan, "notifications")) return;
  const { channels } = await configuredChannels(db);
  if (channels.size === 0) return;
  const allowed = CHANNELS.filter(
    (channel) => channels.has(channel) && (channel === "email" || planIncludes(plan, "notifications-sms-push")),
  );
  const pairs = await templatedPairs(db);
  const at = new Date().toISOString();
  const { remember, isNew } = await newDeviceSignIns(db, relevant, at);

  const rows: NewNotification[] = [];
  for (const event of relevant) {
    if (event.type === "user.login" && !isNew.has(event.id)) continue;
    const template = TEMPLATE_OF[event.type] as NotifiableEvent;
    for (const channel of allowed as Channel[]) {
      if (!pairs.has(`${template}/${channel}`)) continue;
      rows.push({
        id: newId("ntf"),
        event_id: event.id,
        event_type: event.type,
        template,
        channel,
        category: categoryOf(template),
        user_id: userOf(event) as string,
      });
    }
  }
  const inserts = rows.map((row) => insertNotification(db, row, at));
  if (inserts.length + remember.length > 0) await db.batch([...inserts, ...remember]);
  // every queued message of these events, not only the new ones: an earlier attempt may have written rows and
  // then failed to enqueue them (the sender ignores a message whose row is no longer queued)
  const ids = await queuedOf(
    db,
    relevant.map((event) => event.id),
    at,
  );
  await enqueueNotifications(env, tenantId, ids);
}

export const notificationsConsumer: EventConsumer = { name: "notifications", consume };
