import { signedHeaders } from "../../core/http/standard-webhooks";
import { checkOutboundUrl } from "../../core/http/url-guard";
import type { EmailConfig } from "../notifications/channels.service";
import { channelFor } from "../notifications/channels.service";
import { DeliveryError, sendEmail } from "../notifications/providers";
import { webhookSettings } from "../webhooks/webhooks.config";
import { postWebhook, signingSecrets } from "../webhooks/webhooks.delivery";
import { findEndpoint } from "../webhooks/webhooks.repo";
import type { Rendered } from "./reports.render";

/**
 * Where a generated report goes: html and csv by the tenant's email channel (the notifications' sender: SMTP or an
 * HTTP email API), json POSTed to the schedule's webhook endpoint, signed like every webhook delivery (webhook-id is
 * the run's id, the same on every attempt, so a receiver can drop a repeat). A DeliveryError says whether trying
 * again can help.
 */
export async function deliver(
  env: Env,
  tenantId: string,
  db: D1Database,
  target: { runId: string; recipients: string[]; webhookId: string | null },
  rendered: Rendered,
): Promise<string> {
  if (rendered.email) {
    const channel = await channelFor<EmailConfig>(env, tenantId, db, "email");
    if (!channel) throw new DeliveryError("no email channel is set up (PUT /v1/notification-channels)", true);
    const { subject, text, html, csv } = rendered.email;
    return sendEmail(env, channel.config, channel.credentials, {
      from: channel.config.from,
      to: target.recipients,
      subject,
      text,
      html,
      ...(csv ? { attachments: [{ filename: csv.filename, contentType: "text/csv", content: csv.content }] } : {}),
    });
  }
  const endpoint = target.webhookId ? await findEndpoint(db, target.webhookId) : null;
  if (!endpoint) throw new DeliveryError(`the webhook endpoint ${target.webhookId} is gone`, true);
  if (endpoint.status !== "enabled") throw new DeliveryError(`the webhook endpoint ${endpoint.id} is disabled`, true);
  const verdict = checkOutboundUrl(endpoint.url, env);
  if (!verdict.ok) throw new DeliveryError(`URL not allowed: ${verdict.reason}`, true);
  const body = rendered.artefact;
  const headers = await signedHeaders(await signingSecrets(env, endpoint, Date.now()), target.runId, body);
  const result = await postWebhook(verdict.url.href, headers, body, webhookSettings(env).timeoutMs);
  if (result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300) {
    return `webhook answered ${result.statusCode}`;
  }
  if (result.statusCode === null) throw new DeliveryError(`webhook: ${result.error ?? "no answer"}`, false);
  // 410 Gone: the receiver asks for nothing more (as the webhook deliveries read it)
  throw new DeliveryError(`webhook answered ${result.statusCode}`, result.statusCode === 410);
}
