import { controlDb, tenantDatabases } from "../../core/db/databases";
import type { UserRow } from "../../core/db/tenant-schema";
import { openEventSecret } from "../../core/events/outbox";
import { loggableError } from "../../core/http/error-handler";
import { type Plan, planIncludes } from "../../core/plans";
import { findUser } from "../users/users.repo";
import { type Category, NEW_DEVICE_SIGN_IN, type NotifiableEvent, type OptionalCategory } from "./catalogue";
import type { Settings } from "./channels.schema";
import {
  channelFor,
  configuredChannels,
  type EmailConfig,
  type PushConfig,
  type SmsConfig,
  vapidKeysOf,
} from "./channels.service";
import type { NotificationMessage } from "./notifications.queue";
import {
  claimNotification,
  finishNotification,
  type NotificationRow,
  type NotificationStatus,
} from "./notifications.repo";
import { optedOutOf, unsubscribeUrl } from "./preferences";
import { DeliveryError, sendEmail, sendPush, sendSms } from "./providers";
import { dropPushSubscription, pushTargetsOf } from "./push-subscriptions";
import { renderTemplate, resolveTemplate } from "./templates.service";

/**
 * The NOTIFICATIONS queue consumer: for each message, claims its row, reads the recipient's address (decrypted
 * only now, never stored with the message), renders the template and sends it. A temporary failure goes back to
 * the queue with a growing delay (NOTIFICATION_RETRY_DELAY_SECONDS × 2^(attempt-1)) until
 * NOTIFICATION_MAX_ATTEMPTS; a permanent one (a 5xx SMTP reply, a 4xx API answer) fails at once.
 */

interface Outcome {
  status: Exclude<NotificationStatus, "queued">;
  detail: string | null;
}

const sent = (receipt: string): Outcome => ({ status: "sent", detail: receipt.slice(0, 300) });
const suppressed = (why: string): Outcome => ({ status: "suppressed", detail: why });

/** A claim older than this is taken over: its sender died (an invocation never runs this long). */
export const CLAIM_TTL_MS = 5 * 60_000;

function numberVar(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

/** The event the message is about, with its sealed part opened (a reset token), from the tenant's outbox. */
async function eventOf(env: Env, db: D1Database, eventId: string) {
  const row = await db
    .prepare("SELECT data, secret_sealed, created_at FROM outbox_events WHERE id = ?")
    .bind(eventId)
    .first<{ data: string; secret_sealed: string | null; created_at: string }>();
  if (!row) return null;
  return {
    data: JSON.parse(row.data) as Record<string, unknown>,
    secret: row.secret_sealed ? await openEventSecret(env, eventId, row.secret_sealed) : {},
    occurredAt: row.created_at,
  };
}

function linkWith(template: string | undefined, token: string | undefined): string | undefined {
  if (!template) return undefined;
  return token === undefined ? template : template.replaceAll("{{token}}", encodeURIComponent(token));
}

/** The variables of one message: the user, the app, and what its event brings (a link, a time). */
function messageData(
  template: NotifiableEvent,
  user: UserRow,
  settings: Settings,
  event: NonNullable<Awaited<ReturnType<typeof eventOf>>>,
  unsubscribe: string | null,
): Record<string, unknown> {
  const base: Record<string, unknown> = {
    user: { id: user.id, name: user.name ?? user.username ?? "", email: user.email, username: user.username ?? "" },
    app: { name: settings.appName },
    ...(unsubscribe ? { unsubscribeUrl: unsubscribe } : {}),
  };
  const token = event.secret.token;
  const expiresAt = typeof event.data.expiresAt === "string" ? event.data.expiresAt : undefined;
  switch (template) {
    case "user.password_reset_requested":
      return { ...base, token, expiresAt, link: linkWith(settings.links.passwordReset, token) };
    case "user.email_verification_requested":
      return { ...base, token, expiresAt, link: linkWith(settings.links.emailVerification, token) };
    case "user.activation_reminder":
      return { ...base, days: settings.activationReminderDays, link: settings.links.signIn };
    case "user.re_engagement":
      return { ...base, link: settings.links.signIn };
    case NEW_DEVICE_SIGN_IN:
      return {
        ...base,
        signIn: { at: event.occurredAt, method: String(event.data.method ?? "") },
        link: linkWith(settings.links.passwordReset, undefined),
      };
    default:
      return base;
  }
}

function localeOf(user: UserRow): string | null {
  const locale = (user.attributes as Record<string, unknown> | null)?.locale;
  return typeof locale === "string" && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(locale) ? locale : null;
}

async function deliver(env: Env, tenantId: string, plan: Plan, db: D1Database, row: NotificationRow): Promise<Outcome> {
  const store = { env, db, scope: tenantId };
  const user = await findUser(store, row.user_id);
  if (user?.status !== "active") return suppressed("the user is deleted or disabled");
  const category = row.category as Category;
  if (category !== "security" && (await optedOutOf(db, user.id)).includes(category as OptionalCategory)) {
    return suppressed(`the user opted out of ${category}`);
  }
  if (row.channel !== "email" && !planIncludes(plan, "notifications-sms-push")) {
    return suppressed(`the ${plan} plan has no ${row.channel} notifications`);
  }
  const { settings } = await configuredChannels(db);
  const template = await resolveTemplate(
    db,
    row.template as NotifiableEvent,
    row.channel,
    localeOf(user),
    settings.defaultLocale,
  );
  if (!template) return suppressed(`no ${row.channel} template for ${row.template}`);
  const event = await eventOf(env, db, row.event_id);
  if (!event) return suppressed("the event is no longer in the outbox");
  const unsubscribe =
    category === "security"
      ? null
      : await unsubscribeUrl(env, { tenantId, userId: user.id, category: category as OptionalCategory });
  const rendered = renderTemplate(template, messageData(template.event, user, settings, event, unsubscribe));

  if (row.channel === "email") {
    const channel = await channelFor<EmailConfig>(env, tenantId, db, "email");
    if (!channel) return suppressed("no email channel is set up");
    const headers: Record<string, string> = {};
    if (unsubscribe) {
      // RFC 2369 and RFC 8058 §3.1: a one-click unsubscribe the mail client may POST to
      headers["List-Unsubscribe"] = `<${unsubscribe}>`;
      headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    }
    const to = user.name ? `${user.name.replace(/[<>"\r\n]/g, "")} <${user.email}>` : user.email;
    return sent(
      await sendEmail(env, channel.config, channel.credentials, {
        from: channel.config.from,
        to,
        subject: rendered.subject ?? "",
        text: rendered.text,
        html: rendered.html,
        headers,
      }),
    );
  }
  if (row.channel === "sms") {
    if (!user.phone) return suppressed("the user has no phone number");
    const channel = await channelFor<SmsConfig>(env, tenantId, db, "sms");
    if (!channel) return suppressed("no SMS channel is set up");
    return sent(await sendSms(env, channel.config, channel.credentials, { to: user.phone, body: rendered.text }));
  }
  const channel = await channelFor<PushConfig>(env, tenantId, db, "push");
  if (!channel) return suppressed("no push channel is set up");
  const targets = await pushTargetsOf(env, tenantId, db, user.id);
  if (targets.length === 0) return suppressed("the user has no push subscription");
  const payload = JSON.stringify({
    title: rendered.subject ?? settings.appName,
    body: rendered.text,
    event: row.template,
  });
  const receipts: string[] = [];
  for (const target of targets) {
    const result = await sendPush(
      env,
      channel.config,
      vapidKeysOf(channel.config, channel.credentials),
      target,
      payload,
    );
    if (result.gone) await dropPushSubscription(db, target.id);
    else receipts.push(result.receipt);
  }
  return receipts.length > 0 ? sent(receipts.join(" ")) : suppressed("every push subscription has expired");
}

interface TenantTarget {
  plan: Plan;
  db: D1Database;
}

async function tenantTarget(env: Env, tenantId: string, cache: Map<string, TenantTarget | null>) {
  if (!cache.has(tenantId)) {
    const row = await (await controlDb(env))
      .prepare("SELECT plan, database_binding FROM tenants WHERE id = ?")
      .bind(tenantId)
      .first<{ plan: Plan; database_binding: string }>();
    cache.set(
      tenantId,
      row
        ? { plan: row.plan, db: await tenantDatabases.forTenant(env, { databaseBinding: row.database_binding }) }
        : null,
    );
  }
  return cache.get(tenantId) ?? null;
}

function isNotificationMessage(body: unknown): body is NotificationMessage {
  const b = body as Partial<NotificationMessage> | null;
  return typeof b === "object" && b !== null && typeof b.tenantId === "string" && typeof b.notificationId === "string";
}

function log(env: Env, entry: Record<string, unknown>): void {
  if (env.LOG_LEVEL !== "silent") console.log(JSON.stringify(entry));
}

export async function consumeNotifications(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  const maxAttempts = Math.max(1, numberVar(env.NOTIFICATION_MAX_ATTEMPTS, 5));
  const baseDelay = numberVar(env.NOTIFICATION_RETRY_DELAY_SECONDS, 30);
  const tenants = new Map<string, TenantTarget | null>();
  for (const message of messages) {
    if (!isNotificationMessage(message.body)) {
      log(env, { level: "warn", msg: "not a notification message", id: message.id });
      message.ack();
      continue;
    }
    const { tenantId, notificationId } = message.body;
    let row: NotificationRow | null = null;
    let target: TenantTarget | null = null;
    try {
      target = await tenantTarget(env, tenantId, tenants);
      const now = Date.now();
      row = target
        ? await claimNotification(
            target.db,
            notificationId,
            new Date(now).toISOString(),
            new Date(now - CLAIM_TTL_MS).toISOString(),
          )
        : null;
      if (!target || !row) {
        message.ack();
        continue;
      }
      const outcome = await deliver(env, tenantId, target.plan, target.db, row);
      await finishNotification(
        target.db,
        row.id,
        { status: outcome.status, error: outcome.status === "sent" ? null : outcome.detail },
        new Date().toISOString(),
      ).run();
      message.ack();
    } catch (error) {
      const detail = error instanceof Error ? error.message.slice(0, 500) : "send failed";
      const permanent = error instanceof DeliveryError && error.permanent;
      if (!target || !row) {
        log(env, {
          level: "error",
          msg: "notification send failed",
          tenantId,
          notificationId,
          error: loggableError(error),
        });
        message.retry({ delaySeconds: baseDelay });
        continue;
      }
      const last = permanent || row.attempts >= maxAttempts;
      const delaySeconds = Math.min(baseDelay * 2 ** (row.attempts - 1), 12 * 3600);
      const now = Date.now();
      await finishNotification(
        target.db,
        row.id,
        { status: last ? "failed" : "queued", error: detail, dueAt: new Date(now + delaySeconds * 1000).toISOString() },
        new Date(now).toISOString(),
      )
        .run()
        .catch(() => undefined);
      if (last) message.ack();
      else message.retry({ delaySeconds });
    }
  }
}

/**
 * The dead-letter queue: messages the queue gave up on (its own retry limit, above NOTIFICATION_MAX_ATTEMPTS, was
 * reached without the sender deciding, e.g. the tenant database was unreachable each time) are marked failed.
 */
export async function giveUpNotifications(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  const tenants = new Map<string, TenantTarget | null>();
  for (const message of messages) {
    if (isNotificationMessage(message.body)) {
      const target = await tenantTarget(env, message.body.tenantId, tenants).catch(() => null);
      await target?.db
        .prepare(
          "UPDATE notifications SET status = 'failed', error = coalesce(error, 'gave up'), claimed_at = NULL, updated_at = ? WHERE id = ? AND status = 'queued'",
        )
        .bind(new Date().toISOString(), message.body.notificationId)
        .run()
        .catch(() => undefined);
    }
    log(env, { level: "warn", msg: "notification dead-lettered", id: message.id });
    message.ack();
  }
}
