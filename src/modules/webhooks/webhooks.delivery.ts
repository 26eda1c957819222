import { backgroundContext, type ServiceContext } from "../../core/context";
import { controlDb, tenantDatabases } from "../../core/db/databases";
import { type OutboxRow, sendPendingEvents, toEventMessage } from "../../core/events/dispatch";
import { loggableError } from "../../core/http/error-handler";
import { signedHeaders } from "../../core/http/standard-webhooks";
import { checkOutboundUrl } from "../../core/http/url-guard";
import { auditStatement } from "../audit/audit.service";
import { retryDelaySeconds, type WebhookSettings, webhookSettings } from "./webhooks.config";
import {
  type AttemptOutcome,
  claimStatements,
  type DeliveryRow,
  deadLetter,
  insertAttempt,
  releaseClaim,
  settleDelivery,
} from "./webhooks.deliveries.repo";
import { type DeadDelivery, type DeliveryMessage, isDeliveryMessage } from "./webhooks.queue";
import { type EndpointRow, toEndpointRow } from "./webhooks.repo";
import { openSecret } from "./webhooks.signing";

/** The delivery log keeps this much of a response body. */
const RESPONSE_BODY_BYTES = 1024;
const USER_AGENT = "UserOpsManager-Webhooks/1";

/** The first `RESPONSE_BODY_BYTES` of a response body, without reading the rest. */
async function bodyPrefix(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, RESPONSE_BODY_BYTES));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

interface PostOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

/**
 * One signed POST: never following a redirect (a 3xx is a failure: SSRF), given up after the timeout. Also how a
 * scheduled JSON report reaches its endpoint (src/modules/reports).
 */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostOutcome> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const responseBody = await bodyPrefix(response).catch(() => null);
    return { statusCode: response.status, error: null, durationMs: Date.now() - started, responseBody };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const message =
      name === "TimeoutError" || name === "AbortError"
        ? `timeout after ${timeoutMs} ms`
        : `request failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300);
    return { statusCode: null, error: message, durationMs: Date.now() - started, responseBody: null };
  }
}

/** The secrets to sign with: the current one, and the previous one during its overlap after a rotation. */
export async function signingSecrets(env: Env, endpoint: EndpointRow, now: number): Promise<string[]> {
  const secrets = [await openSecret(env, endpoint.id, endpoint.secretSealed)];
  if (
    endpoint.previousSecretSealed &&
    endpoint.previousSecretExpiresAt &&
    Date.parse(endpoint.previousSecretExpiresAt) > now
  ) {
    secrets.push(await openSecret(env, endpoint.id, endpoint.previousSecretSealed));
  }
  return secrets;
}

/** The request body (Standard Webhooks): `{type, timestamp, data}`, data being the event as GET /v1/events shows it. */
export function payloadOf(tenantId: string, event: OutboxRow): string {
  const message = toEventMessage(tenantId, event);
  return JSON.stringify({ type: message.type, timestamp: message.occurredAt, data: message });
}

function disableStatement(
  db: D1Database,
  endpointId: string,
  reason: "gone" | "failures",
  at: string,
  minFailures = 0,
) {
  return db
    .prepare(
      `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ?1, disabled_at = ?2, updated_at = ?2,
         version = version + 1
       WHERE id = ?3 AND status = 'enabled' AND consecutive_failures >= ?4`,
    )
    .bind(reason, at, endpointId, minFailures);
}

/** The audit row of an automatic disabling (its event, `webhook.disabled`, comes from the outbox trigger). */
async function disabledAudit(ctx: ServiceContext, endpointId: string, reason: string, at: string) {
  return auditStatement(
    ctx,
    {
      action: "webhook.disabled",
      resource: { type: "webhook", id: endpointId },
      changes: { status: { from: "enabled", to: "disabled" }, disabledReason: { from: null, to: reason } },
    },
    { at, onlyIfPreviousChanged: true },
  );
}

interface Settled {
  /** Where the delivery stands ("stale": it moved on meanwhile, e.g. a manual retry). */
  status: "stale" | AttemptOutcome["status"];
  /** The next attempt to enqueue, with its delay. */
  retry?: { attempt: number; delaySeconds: number };
  /** The final failure, for the dead-letter queue. */
  final?: string;
  /** The endpoint was disabled by this attempt. */
  disabled?: boolean;
}

/**
 * Makes one attempt of a delivery and records it. A stale or duplicate message (another attempt number, a finished
 * delivery, an attempt another consumer is making) does nothing.
 */
export async function deliverOnce(
  env: Env,
  tenantId: string,
  db: D1Database,
  message: DeliveryMessage,
  settings: WebhookSettings = webhookSettings(env),
): Promise<"stale" | AttemptOutcome["status"]> {
  const nowMs = Date.now();
  const now = new Date(nowMs).toISOString();
  const staleBefore = new Date(nowMs - settings.timeoutMs - 60_000).toISOString();
  const [claimed, endpointResult, eventResult] = await db.batch(
    claimStatements(db, message.deliveryId, message.attempt, now, staleBefore),
  );
  const delivery = claimed?.results[0] as DeliveryRow | undefined;
  if (!delivery) return "stale";
  try {
    const stored = endpointResult?.results[0] as Parameters<typeof toEndpointRow>[0] | undefined;
    const endpoint = stored ? toEndpointRow(stored) : null;
    const event = eventResult?.results[0] as OutboxRow | undefined;
    const settled = await attempt(env, tenantId, db, delivery, endpoint, event, settings);
    if (settled.retry) {
      const body: DeliveryMessage = { tenantId, deliveryId: delivery.id, attempt: settled.retry.attempt };
      await env.WEBHOOKS.send(body, { contentType: "json", delaySeconds: settled.retry.delaySeconds });
    }
    if (settled.final) {
      const body: DeadDelivery = {
        tenantId,
        deliveryId: delivery.id,
        attempt: delivery.attempt,
        reason: settled.final,
      };
      await env.WEBHOOKS_DLQ.send(body, { contentType: "json" });
    }
    // the webhook.disabled event goes out now rather than with the next sweep
    if (settled.disabled) await sendPendingEvents(env, tenantId, db);
    return settled.status;
  } catch (error) {
    // the queue retries the message: give the attempt back so that the retry can take it
    await releaseClaim(db, delivery.id, delivery.attempt)
      .run()
      .catch(() => undefined);
    throw error;
  }
}

async function attempt(
  env: Env,
  tenantId: string,
  db: D1Database,
  delivery: DeliveryRow,
  endpoint: EndpointRow | null,
  event: OutboxRow | undefined,
  settings: WebhookSettings,
): Promise<Settled> {
  const at = new Date().toISOString();
  const finish = (error: string) =>
    settleDelivery(db, delivery.id, delivery.attempt, {
      status: "failed",
      nextAttempt: delivery.attempt,
      nextAttemptAt: null,
      statusCode: null,
      error,
      at,
    });
  // a disabled endpoint gets no request; a replay or a retry after it is enabled again sends the event
  if (endpoint?.status !== "enabled") {
    await finish("endpoint disabled").run();
    return { status: "failed" };
  }
  if (!event) {
    await finish("event not found").run();
    return { status: "failed" };
  }
  const verdict = checkOutboundUrl(endpoint.url, env);
  const body = payloadOf(tenantId, event);
  const result = verdict.ok
    ? await postWebhook(
        verdict.url.href,
        await signedHeaders(await signingSecrets(env, endpoint, Date.now()), event.id, body),
        body,
        settings.timeoutMs,
      )
    : { statusCode: null, error: `URL not allowed: ${verdict.reason}`, durationMs: 0, responseBody: null };
  const record = insertAttempt(db, {
    delivery_id: delivery.id,
    attempt: delivery.attempt,
    attempted_at: at,
    status_code: result.statusCode,
    error: result.error,
    duration_ms: result.durationMs,
    response_body: result.responseBody,
  });
  const done = new Date().toISOString();
  const code = result.statusCode;
  const base = { statusCode: code, at: done };
  if (code !== null && code >= 200 && code < 300) {
    await db.batch([
      record,
      settleDelivery(db, delivery.id, delivery.attempt, {
        ...base,
        status: "succeeded",
        nextAttempt: delivery.attempt,
        nextAttemptAt: null,
        error: null,
      }),
      db.prepare("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = ?").bind(endpoint.id),
    ]);
    return { status: "succeeded" };
  }
  const error = result.error ?? (code !== null && code >= 300 && code < 400 ? "redirect not followed" : null);
  const ctx = backgroundContext(env, tenantId, db, "webhooks");
  const failure = db
    .prepare("UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = ?")
    .bind(endpoint.id);
  if (code === 410) {
    // 410 Gone: the receiver says this endpoint is no more (Standard Webhooks, "Disabling endpoints")
    const [, settledRow, , disabled] = await db.batch([
      record,
      settleDelivery(db, delivery.id, delivery.attempt, {
        ...base,
        status: "failed",
        nextAttempt: delivery.attempt,
        nextAttemptAt: null,
        error: "410 Gone: endpoint disabled",
      }),
      failure,
      disableStatement(db, endpoint.id, "gone", done),
      await disabledAudit(ctx, endpoint.id, "gone", done),
    ]);
    return {
      status: (settledRow?.meta.changes ?? 0) > 0 ? "failed" : "stale",
      disabled: (disabled?.meta.changes ?? 0) > 0,
    };
  }
  const next = delivery.attempt + 1;
  const delay = retryDelaySeconds(settings, next);
  const settle =
    delay === null
      ? settleDelivery(db, delivery.id, delivery.attempt, {
          ...base,
          status: "failed",
          nextAttempt: delivery.attempt,
          nextAttemptAt: null,
          error,
        })
      : settleDelivery(db, delivery.id, delivery.attempt, {
          ...base,
          status: "pending",
          nextAttempt: next,
          nextAttemptAt: new Date(Date.parse(done) + delay * 1000).toISOString(),
          error,
        });
  const results = await db.batch([
    record,
    settle,
    failure,
    disableStatement(db, endpoint.id, "failures", done, settings.disableAfterFailures),
    await disabledAudit(ctx, endpoint.id, "failures", done),
  ]);
  const moved = (results[1]?.meta.changes ?? 0) > 0;
  const disabled = (results[3]?.meta.changes ?? 0) > 0;
  if (!moved) return { status: "stale", disabled };
  if (delay === null) {
    return {
      status: "failed",
      final: `${delivery.attempt} attempts failed; last: ${error ?? `HTTP ${code}`}`,
      disabled,
    };
  }
  return { status: "pending", retry: { attempt: next, delaySeconds: delay }, disabled };
}

/** The tenant's database, or null when the tenant is gone (its messages are dropped). */
async function databaseOf(env: Env, tenantId: string): Promise<D1Database | null> {
  const control = await controlDb(env);
  const tenant = await control
    .prepare("SELECT database_binding FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ database_binding: string }>();
  return tenant ? tenantDatabases.forTenant(env, { databaseBinding: tenant.database_binding }) : null;
}

function logError(env: Env, msg: string, fields: Record<string, unknown>, error: unknown): void {
  if (env.LOG_LEVEL === "silent") return;
  console.error(JSON.stringify({ level: "error", msg, ...fields, error: loggableError(error) }));
}

/** Runs `work` for each message, the tenants' databases looked up once per batch; a failure retries the message. */
async function eachMessage(
  env: Env,
  messages: readonly Message<unknown>[],
  what: string,
  work: (db: D1Database, body: DeliveryMessage) => Promise<unknown>,
): Promise<void> {
  const databases = new Map<string, Promise<D1Database | null>>();
  await Promise.all(
    messages.map(async (message) => {
      const body = message.body;
      if (!isDeliveryMessage(body)) {
        message.ack();
        return;
      }
      try {
        let db = databases.get(body.tenantId);
        if (!db) {
          db = databaseOf(env, body.tenantId);
          databases.set(body.tenantId, db);
        }
        const database = await db;
        if (database) await work(database, body);
        message.ack();
      } catch (error) {
        logError(env, what, { tenantId: body.tenantId, deliveryId: body.deliveryId }, error);
        message.retry();
      }
    }),
  );
}

/**
 * The `uom-webhooks` consumer: each message is one attempt of one delivery, made concurrently with the batch's
 * others. Retries are new messages (with the schedule's delay), not queue retries: a queue retry happens only when
 * recording failed, and after max_retries the message goes to the dead-letter queue.
 */
export async function consumeDeliveries(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  const settings = webhookSettings(env);
  await eachMessage(env, messages, "webhook delivery failed", (db, body) =>
    deliverOnce(env, body.tenantId, db, body, settings),
  );
}

/**
 * The `uom-webhooks-dlq` consumer: records the final failure on the delivery (a delivery whose schedule ran out, or
 * a message the queue gave up on), unless it moved on meanwhile (succeeded, or retried by hand).
 */
export async function consumeDeadDeliveries(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  const at = new Date().toISOString();
  await eachMessage(env, messages, "webhook dead letter failed", (db, body) =>
    deadLetter(db, body.deliveryId, body.attempt, at, (body as DeadDelivery).reason ?? "dead-lettered").run(),
  );
}
