import { checkOutboundUrl, hostProblem } from "../../core/http/url-guard";
import type { EmailConfig, PushConfig, SmsConfig } from "./channels.service";
import { addressOf, buildMessage, type MailContent, recipientsOf } from "./mime";
import { SmtpError, sendSmtp } from "./smtp-client";
import { type PushSubscriptionKeys, pushRequest, type VapidKeys } from "./webpush";

/**
 * The outside calls that deliver a rendered message. A `DeliveryError` says whether trying again can help: a
 * 5xx SMTP reply or a 4xx HTTP answer (bad credentials, a refused address) is permanent; a timeout, a network
 * failure, a 4xx SMTP reply or a 5xx/429 HTTP answer is not.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "DeliveryError";
  }
}

interface GuardEnv {
  ENVIRONMENT?: string;
  SMTP_TIMEOUT_MS?: string;
}

/** What the provider answered, for the log (never the message itself). */
export type Receipt = string;

function guardUrl(url: string, env: GuardEnv): URL {
  const verdict = checkOutboundUrl(url, env);
  if (!verdict.ok) throw new DeliveryError(`the provider URL is refused: ${verdict.reason}`, true);
  return verdict.url;
}

async function httpFailure(response: Response, what: string): Promise<DeliveryError> {
  const text = (await response.text().catch(() => "")).slice(0, 200);
  const permanent = response.status >= 400 && response.status < 500 && response.status !== 429;
  return new DeliveryError(`${what} answered ${response.status}${text ? `: ${text}` : ""}`, permanent);
}

/** UTF-8 text as base64 (the HTTP email APIs take attachments so). */
function buildBase64(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function post(request: Request, what: string): Promise<Response> {
  try {
    return await fetch(request);
  } catch (error) {
    throw new DeliveryError(`${what} could not be reached: ${error instanceof Error ? error.message : "error"}`, false);
  }
}

export async function sendEmail(
  env: GuardEnv,
  config: EmailConfig,
  credentials: Record<string, string>,
  mail: MailContent,
): Promise<Receipt> {
  if (config.provider === "smtp") {
    const problem = hostProblem(config.host, env);
    if (problem) throw new DeliveryError(`the SMTP host is refused: ${problem}`, true);
    const { messageId, message } = buildMessage(mail);
    try {
      const answer = await sendSmtp(
        {
          host: config.host,
          port: config.port,
          security: config.security,
          username: config.username,
          password: credentials.password,
          clientName: addressOf(mail.from).split("@")[1] ?? "localhost",
          timeoutMs: Number(env.SMTP_TIMEOUT_MS ?? "10000"),
        },
        { from: addressOf(mail.from), to: recipientsOf(mail).map(addressOf) },
        message,
      );
      return `${messageId} ${answer}`.slice(0, 300);
    } catch (error) {
      if (error instanceof SmtpError) throw new DeliveryError(`SMTP: ${error.message}`, error.permanent);
      throw new DeliveryError(`SMTP: ${error instanceof Error ? error.message : "connection failed"}`, false);
    }
  }
  const url = guardUrl(config.url, env);
  const headers = mail.headers ?? {};
  const to = recipientsOf(mail);
  const attachments = mail.attachments ?? [];
  const base64 = (text: string) => buildBase64(text);
  const request =
    config.format === "resend"
      ? new Request(url, {
          method: "POST",
          headers: { authorization: `Bearer ${credentials.apiKey ?? ""}`, "content-type": "application/json" },
          body: JSON.stringify({
            from: mail.from,
            to,
            subject: mail.subject,
            text: mail.text,
            ...(mail.html === null ? {} : { html: mail.html }),
            headers,
            ...(attachments.length
              ? { attachments: attachments.map((a) => ({ filename: a.filename, content: base64(a.content) })) }
              : {}),
          }),
        })
      : new Request(url, {
          method: "POST",
          headers: {
            "x-postmark-server-token": credentials.apiKey ?? "",
            accept: "application/json",
            "content-type": "application/json",
          },
          body: JSON.stringify({
            From: mail.from,
            To: to.join(", "),
            Subject: mail.subject,
            TextBody: mail.text,
            ...(mail.html === null ? {} : { HtmlBody: mail.html }),
            Headers: Object.entries(headers).map(([Name, Value]) => ({ Name, Value })),
            MessageStream: "outbound",
            ...(attachments.length
              ? {
                  Attachments: attachments.map((a) => ({
                    Name: a.filename,
                    Content: base64(a.content),
                    ContentType: a.contentType,
                  })),
                }
              : {}),
          }),
        });
  const response = await post(request, "the email API");
  if (!response.ok) throw await httpFailure(response, "the email API");
  const body = (await response.json().catch(() => ({}))) as { id?: string; MessageID?: string };
  return String(body.id ?? body.MessageID ?? response.status);
}

/** Twilio's Messages resource (or a compatible API at `baseUrl`): form-encoded, HTTP Basic with the account. */
export async function sendSms(
  env: GuardEnv,
  config: SmsConfig,
  credentials: Record<string, string>,
  sms: { to: string; body: string },
): Promise<Receipt> {
  const base = guardUrl(config.baseUrl ?? "https://api.twilio.com", env);
  const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`, base);
  const response = await post(
    new Request(url, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${config.accountSid}:${credentials.authToken ?? ""}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ To: sms.to, From: config.from, Body: sms.body }),
    }),
    "the SMS API",
  );
  if (!response.ok) throw await httpFailure(response, "the SMS API");
  const body = (await response.json().catch(() => ({}))) as { sid?: string };
  return String(body.sid ?? response.status);
}

export interface PushTarget {
  endpoint: string;
  keys: PushSubscriptionKeys;
}

/**
 * One push message to one subscription. `gone`: the push service says the subscription no longer exists (404 or
 * 410, RFC 8030 §7.3), so it should be dropped.
 */
export async function sendPush(
  env: GuardEnv,
  config: PushConfig,
  vapid: VapidKeys,
  target: PushTarget,
  payload: string,
): Promise<{ receipt: Receipt; gone: boolean }> {
  guardUrl(target.endpoint, env);
  const response = await post(
    await pushRequest(target.endpoint, target.keys, payload, { subject: config.subject, keys: vapid }),
    "the push service",
  );
  if (response.status === 404 || response.status === 410) return { receipt: `${response.status}`, gone: true };
  if (!response.ok) throw await httpFailure(response, "the push service");
  return { receipt: response.headers.get("location") ?? String(response.status), gone: false };
}
