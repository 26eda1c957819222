import type { ServiceContext } from "../../core/context";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { checkOutboundUrl, hostProblem } from "../../core/http/url-guard";
import { featureNotInPlan, planIncludes } from "../../core/plans";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import {
  type ConfigName,
  deleteConfig,
  openCredentials,
  readConfigs,
  sealCredentials,
  upsertConfig,
} from "./channels.repo";
import {
  type ChannelsInput,
  type ChannelsView,
  DEFAULT_SETTINGS,
  type Settings,
  SettingsSchema,
} from "./channels.schema";
import { generateVapidKeys, type VapidKeys } from "./webpush";

/** The credential each kind of channel keeps sealed: write-only, kept by a PUT that leaves it out. */
const CREDENTIAL: Record<string, string> = { smtp: "password", http: "apiKey", twilio: "authToken" };
const HAS: Record<string, string> = { password: "hasPassword", apiKey: "hasApiKey", authToken: "hasAuthToken" };

export type EmailConfig =
  | {
      provider: "smtp";
      host: string;
      port: number;
      security: "starttls" | "tls" | "none";
      username?: string;
      from: string;
    }
  | { provider: "http"; format: "resend" | "postmark"; url: string; from: string };
export interface SmsConfig {
  provider: "twilio";
  accountSid: string;
  from: string;
  baseUrl?: string;
}
export interface PushConfig {
  subject: string;
  publicKey: string;
}

function redacted(config: Record<string, unknown> | undefined, hasSecret: boolean) {
  if (!config) return null;
  const credential = CREDENTIAL[String(config.provider)];
  return credential ? { ...config, [HAS[credential] as string]: hasSecret } : config;
}

export async function getChannels(ctx: ServiceContext): Promise<ChannelsView> {
  const stored = await readConfigs(ctx.db);
  const push = stored.get("push")?.config as PushConfig | undefined;
  const times = (["email", "sms", "push"] as const).map((name) => stored.get(name)?.updatedAt ?? "");
  const latest = times.sort().at(-1) || null;
  return {
    email: redacted(stored.get("email")?.config, Boolean(stored.get("email")?.secretSealed)),
    sms: redacted(stored.get("sms")?.config, Boolean(stored.get("sms")?.secretSealed)),
    push: push ? { subject: push.subject, publicKey: push.publicKey } : null,
    updatedAt: latest,
  };
}

function assertPlanAllows(ctx: ServiceContext, input: ChannelsInput): void {
  const plan = ctx.tenant?.plan;
  if (!plan || planIncludes(plan, "notifications-sms-push")) return;
  if (input.sms || input.push) throw featureNotInPlan("notifications-sms-push", plan);
}

/** Where the channel would connect: checked now, and again before each send (the guard may have changed). */
function outboundProblems(env: Env, input: ChannelsInput): FieldError[] {
  const errors: FieldError[] = [];
  const email = input.email;
  if (email?.provider === "smtp") {
    const problem = hostProblem(email.host, env);
    if (problem) errors.push({ field: "email.host", code: "not_allowed", detail: problem });
    if (email.security === "none" && env.ENVIRONMENT !== "development") {
      errors.push({
        field: "email.security",
        code: "not_allowed",
        detail: "Plain SMTP (no TLS) is allowed only in development: use starttls or tls.",
      });
    }
  }
  if (email?.provider === "http") {
    const verdict = checkOutboundUrl(email.url, env);
    if (!verdict.ok) errors.push({ field: "email.url", code: "not_allowed", detail: verdict.reason });
  }
  if (input.sms?.baseUrl) {
    const verdict = checkOutboundUrl(input.sms.baseUrl, env);
    if (!verdict.ok) errors.push({ field: "sms.baseUrl", code: "not_allowed", detail: verdict.reason });
  }
  return errors;
}

/**
 * Replaces the channels: each given one is validated (outbound hosts through the SSRF guard), its credential
 * sealed; a credential left out keeps the stored one of the same provider; an absent channel is removed. Push
 * gets a VAPID key pair on first use (or `rotateKeys`), its private key sealed.
 */
export async function putChannels(ctx: ServiceContext, input: ChannelsInput): Promise<ChannelsView> {
  assertPlanAllows(ctx, input);
  const errors = outboundProblems(ctx.env, input);
  const tenantId = ctx.scope;
  const stored = await readConfigs(ctx.db);
  const at = new Date().toISOString();
  const statements: D1PreparedStatement[] = [];
  const changes: Record<string, { from: unknown; to: unknown }> = {};

  for (const name of ["email", "sms"] as const) {
    const given = input[name];
    const before = stored.get(name);
    const beforeProvider = (before?.config.provider as string | undefined) ?? null;
    if (!given) {
      if (before) statements.push(deleteConfig(ctx.db, name));
      if (before) changes[name] = { from: beforeProvider, to: null };
      continue;
    }
    const credential = CREDENTIAL[given.provider] as string;
    const { [credential]: secret, ...config } = given as Record<string, unknown>;
    let sealed: string | null = null;
    if (typeof secret === "string") {
      sealed = await sealCredentials(ctx.env, tenantId, name, { [credential]: secret });
    } else if (before?.secretSealed && beforeProvider === given.provider) {
      sealed = before.secretSealed;
    }
    const optional = given.provider === "smtp" && !given.username;
    if (!sealed && !optional) {
      errors.push({ field: `${name}.${credential}`, code: "required", detail: `The ${credential} is required.` });
    }
    if (given.provider === "smtp" && given.username && !sealed) {
      errors.push({ field: "email.password", code: "required", detail: "A username needs its password." });
    }
    statements.push(upsertConfig(ctx.db, name, config, sealed, at));
    changes[name] = { from: beforeProvider, to: given.provider };
  }

  const pushBefore = stored.get("push");
  if (input.push) {
    let sealed = pushBefore?.secretSealed ?? null;
    let publicKey = (pushBefore?.config.publicKey as string | undefined) ?? null;
    if (!sealed || !publicKey || input.push.rotateKeys) {
      const keys = await generateVapidKeys();
      sealed = await sealCredentials(ctx.env, tenantId, "push", { privateJwk: JSON.stringify(keys.privateJwk) });
      publicKey = keys.publicKey;
    }
    statements.push(upsertConfig(ctx.db, "push", { subject: input.push.subject, publicKey }, sealed, at));
    changes.push = { from: pushBefore ? "vapid" : null, to: "vapid" };
  } else if (pushBefore) {
    statements.push(deleteConfig(ctx.db, "push"));
    changes.push = { from: "vapid", to: null };
  }

  if (errors.length > 0) throw new ApiError(CoreErrors.VALIDATION_FAILED, { errors });
  statements.push(
    await auditStatement(
      ctx,
      { action: "notification_channels.updated", resource: { type: "notification_channels", id: null }, changes },
      { at },
    ),
  );
  await ctx.db.batch(statements);
  return getChannels(ctx);
}

/** A channel's settings and opened credentials, for the sender; null when the tenant has not set it up. */
export async function channelFor<T>(
  env: Env,
  tenantId: string,
  db: D1Database,
  name: ConfigName,
): Promise<{ config: T; credentials: Record<string, string> } | null> {
  const stored = (await readConfigs(db)).get(name);
  if (!stored) return null;
  return {
    config: stored.config as T,
    credentials: await openCredentials(env, tenantId, name, stored.secretSealed),
  };
}

/** Which channels a tenant has set up (one query; the event consumer asks it for every batch). */
export async function configuredChannels(db: D1Database): Promise<{ channels: Set<ConfigName>; settings: Settings }> {
  const stored = await readConfigs(db);
  const settings = stored.get("settings");
  return {
    channels: new Set([...stored.keys()].filter((name) => name !== "settings")),
    settings: settings ? SettingsSchema.parse(settings.config) : DEFAULT_SETTINGS,
  };
}

export function vapidKeysOf(config: PushConfig, credentials: Record<string, string>): VapidKeys {
  return { publicKey: config.publicKey, privateJwk: JSON.parse(credentials.privateJwk ?? "{}") as JsonWebKey };
}

export async function getSettings(ctx: ServiceContext): Promise<Settings> {
  return (await configuredChannels(ctx.db)).settings;
}

export async function putSettings(ctx: ServiceContext, input: Settings): Promise<Settings> {
  // links are opened by the recipient's browser, never fetched by the service: only the scheme is checked
  const errors: FieldError[] = Object.entries(input.links)
    .filter(([, url]) => url && !/^https?:\/\//i.test(url))
    .map(([name]) => ({ field: `links.${name}`, code: "invalid", detail: "An http(s) URL." }));
  if (errors.length > 0) throw new ApiError(CoreErrors.VALIDATION_FAILED, { errors });
  const before = await getSettings(ctx);
  const at = new Date().toISOString();
  await ctx.db.batch([
    upsertConfig(ctx.db, "settings", input, null, at),
    await auditStatement(
      ctx,
      {
        action: "notification_settings.updated",
        resource: { type: "notification_settings", id: null },
        changes: diffChanges(before, input),
      },
      { at },
    ),
  ]);
  return input;
}
