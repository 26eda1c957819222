import type { ServiceContext } from "../../core/context";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { checkOutboundUrl } from "../../core/http/url-guard";
import { newId } from "../../core/ids";
import { PLAN_CONFIG, quotaExceeded } from "../../core/plans";
import { auditStatement } from "../audit/audit.service";
import { diffChanges, REDACTED } from "../audit/audit-changes";
import { webhookSettings } from "./webhooks.config";
import { WebhookErrors } from "./webhooks.errors";
import {
  countEndpoints,
  deleteEndpointRow,
  type EndpointRow,
  findEndpoint,
  insertEndpointWithinQuota,
  listEndpointRows,
  rotateSecretRow,
  updateEndpointRow,
} from "./webhooks.repo";
import type { CreateWebhookInput, Webhook, WebhookPatch } from "./webhooks.schema";
import { newWebhookSecret, sealSecret } from "./webhooks.signing";

export interface VersionedWebhook {
  webhook: Webhook;
  etag: string;
}

export function toWebhook(row: EndpointRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    status: row.status,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function tenantOf(ctx: ServiceContext) {
  if (!ctx.tenant) throw new Error("webhooks belong to a tenant: a tenant service context is required");
  return ctx.tenant;
}

export function webhookNotFound(id: string): ApiError {
  return new ApiError(WebhookErrors.WEBHOOK_NOT_FOUND, { detail: `No webhook endpoint ${id}.` });
}

/** 400 WEBHOOK_URL_NOT_ALLOWED naming the rule (the SSRF guard, core/http/url-guard.ts). */
function assertUrlAllowed(ctx: ServiceContext, url: string): void {
  const verdict = checkOutboundUrl(url, ctx.env);
  if (!verdict.ok) {
    throw new ApiError(WebhookErrors.WEBHOOK_URL_NOT_ALLOWED, {
      detail: `The webhook URL is not allowed: ${verdict.reason}.`,
      errors: [{ field: "url", code: "not_allowed", detail: verdict.reason }],
    });
  }
}

/** Duplicates dropped, order kept. */
function normalized(filters: readonly string[]): string[] {
  return [...new Set(filters)];
}

/** What the audit trail records of an endpoint: never its secret. */
function audited(row: Pick<EndpointRow, "url" | "events" | "description" | "status">) {
  return { url: row.url, events: row.events, description: row.description, status: row.status };
}

export async function createWebhook(
  ctx: ServiceContext,
  input: CreateWebhookInput,
): Promise<{ webhook: Webhook; secret: string; etag: string }> {
  const tenant = tenantOf(ctx);
  assertUrlAllowed(ctx, input.url);
  const id = newId("whk");
  const secret = newWebhookSecret();
  const at = new Date().toISOString();
  const row: EndpointRow = {
    id,
    url: input.url,
    events: normalized(input.events),
    description: input.description || null,
    status: "enabled",
    disabledReason: null,
    disabledAt: null,
    secretSealed: await sealSecret(ctx.env, id, secret),
    previousSecretSealed: null,
    previousSecretExpiresAt: null,
    consecutiveFailures: 0,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const limit = PLAN_CONFIG[tenant.plan].quotas.webhookEndpoints;
  const [inserted] = await ctx.db.batch([
    insertEndpointWithinQuota(ctx.db, row, limit),
    await auditStatement(
      ctx,
      {
        action: "webhook.created",
        resource: { type: "webhook", id },
        changes: { ...diffChanges(null, audited(row)), secret: { from: null, to: REDACTED } },
      },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!inserted?.meta.changes) {
    throw quotaExceeded("webhookEndpoints", tenant.plan, limit, await countEndpoints(ctx.db));
  }
  return { webhook: toWebhook(row), secret, etag: etagOf(1) };
}

/** Oldest first, like API keys: a tenant has few endpoints. */
export async function listWebhooks(ctx: ServiceContext, query: { limit: number; cursor?: string | undefined }) {
  const after = query.cursor ? decodeCursor("webhooks", query.cursor, ["string", "string"]) : null;
  const rows = await listEndpointRows(ctx.db, after ? { createdAt: after[0], id: after[1] } : null, query.limit + 1);
  return pageOf(rows, query.limit, "webhooks", (row) => [row.createdAt, row.id], toWebhook);
}

export async function currentEndpoint(ctx: ServiceContext, id: string): Promise<EndpointRow> {
  const row = await findEndpoint(ctx.db, id);
  if (!row) throw webhookNotFound(id);
  return row;
}

export async function getWebhook(ctx: ServiceContext, id: string): Promise<VersionedWebhook> {
  const row = await currentEndpoint(ctx, id);
  return { webhook: toWebhook(row), etag: etagOf(row.version) };
}

function changedMeanwhile(id: string, ifMatch: string | undefined): ApiError {
  return ifMatch
    ? new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: `Webhook ${id} changed meanwhile; read it again.` })
    : new ApiError(CoreErrors.CONFLICT, { detail: `Webhook ${id} changed meanwhile; try again.` });
}

/** The audit action of a change: turning it on or off is said as such (webhook.enabled / webhook.disabled). */
function actionOf(before: EndpointRow, status: EndpointRow["status"]): string {
  if (before.status === status) return "webhook.updated";
  return status === "enabled" ? "webhook.enabled" : "webhook.disabled";
}

export async function updateWebhook(
  ctx: ServiceContext,
  id: string,
  patch: WebhookPatch,
  ifMatch: string | undefined,
): Promise<VersionedWebhook> {
  const current = await currentEndpoint(ctx, id);
  assertIfMatch(ifMatch, etagOf(current.version));
  if (patch.url !== undefined) assertUrlAllowed(ctx, patch.url);
  const status = patch.status ?? current.status;
  const at = new Date().toISOString();
  const next: EndpointRow = {
    ...current,
    url: patch.url ?? current.url,
    events: patch.events === undefined ? current.events : normalized(patch.events),
    description: patch.description === undefined ? current.description : patch.description || null,
    status,
    // a disabling keeps its first reason; enabling clears it
    disabledReason: status === "enabled" ? null : current.status === "disabled" ? current.disabledReason : "manual",
    disabledAt: status === "enabled" ? null : current.status === "disabled" ? current.disabledAt : at,
  };
  const changes = diffChanges(audited(current), audited(next));
  if (Object.keys(changes).length === 0) return { webhook: toWebhook(current), etag: etagOf(current.version) };
  const [updated] = await ctx.db.batch([
    updateEndpointRow(ctx.db, id, current.version, { ...next, updatedAt: at }),
    await auditStatement(
      ctx,
      { action: actionOf(current, status), resource: { type: "webhook", id }, changes },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!updated?.meta.changes) throw changedMeanwhile(id, ifMatch);
  const row = { ...next, updatedAt: at, version: current.version + 1 };
  return { webhook: toWebhook(row), etag: etagOf(row.version) };
}

/** Deletes the endpoint with its delivery log; deliveries still pending stop (their messages find nothing). */
export async function deleteWebhook(ctx: ServiceContext, id: string, ifMatch: string | undefined): Promise<void> {
  const current = await currentEndpoint(ctx, id);
  assertIfMatch(ifMatch, etagOf(current.version));
  const [deleted] = await ctx.db.batch([
    deleteEndpointRow(ctx.db, id, current.version),
    await auditStatement(
      ctx,
      { action: "webhook.deleted", resource: { type: "webhook", id }, changes: diffChanges(audited(current), null) },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (!deleted?.meta.changes) {
    if (!(await findEndpoint(ctx.db, id))) throw webhookNotFound(id);
    throw changedMeanwhile(id, ifMatch);
  }
}

/**
 * A new secret, returned once. The one it replaces keeps signing for WEBHOOK_SECRET_OVERLAP_SECONDS (each request
 * then carries both signatures), so receivers can switch without missing a request; rotating again within that time
 * drops the oldest.
 */
export async function rotateSecret(
  ctx: ServiceContext,
  id: string,
  ifMatch: string | undefined,
): Promise<{ webhook: Webhook; secret: string; etag: string; previousSecretExpiresAt: string }> {
  const current = await currentEndpoint(ctx, id);
  assertIfMatch(ifMatch, etagOf(current.version));
  const secret = newWebhookSecret();
  const at = new Date().toISOString();
  const overlap = webhookSettings(ctx.env).secretOverlapSeconds;
  const previousExpiresAt = new Date(Date.parse(at) + overlap * 1000).toISOString();
  // the current secret moves to the previous slot as it is sealed (bound to the endpoint id, not to the slot)
  const [rotated] = await ctx.db.batch([
    rotateSecretRow(ctx.db, id, current.version, {
      sealed: await sealSecret(ctx.env, id, secret),
      previousSealed: current.secretSealed,
      previousExpiresAt,
      updatedAt: at,
    }),
    await auditStatement(
      ctx,
      {
        action: "webhook.secret_rotated",
        resource: { type: "webhook", id },
        changes: {
          secret: { from: REDACTED, to: REDACTED },
          previousSecretExpiresAt: { from: null, to: previousExpiresAt },
        },
      },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!rotated?.meta.changes) throw changedMeanwhile(id, ifMatch);
  const row = { ...current, updatedAt: at, version: current.version + 1 };
  return { webhook: toWebhook(row), secret, etag: etagOf(row.version), previousSecretExpiresAt: previousExpiresAt };
}
