import type { ServiceContext } from "../../core/context";
import { open, seal } from "../../core/crypto/sealed-box";
import { ApiError } from "../../core/errors";
import { newSigningSecret } from "../../core/http/standard-webhooks";
import { checkOutboundUrl } from "../../core/http/url-guard";
import { validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { ActionErrors } from "./actions.errors";
import {
  type ActionRow,
  deleteAction as deleteActionRow,
  deleteExecutions,
  findAction,
  insertAction,
  listActions as listActionRows,
  listExecutions as listExecutionRows,
  toAction,
  updateAction as updateActionRow,
} from "./actions.repo";
import type { Action, ActionPatch, CreateActionInput, Execution } from "./actions.schema";

const SECRET_PURPOSE = "uom/action-secret/v1";

/** The URL checked by the SSRF guard at write time too, so a refused one is a clear 400 now, not a failure later. */
function assertUrl(ctx: ServiceContext, url: string): void {
  const verdict = checkOutboundUrl(url, ctx.env);
  if (!verdict.ok) {
    throw validationError([{ field: "url", code: "url_refused", detail: `The URL is refused: ${verdict.reason}.` }]);
  }
}

function notFound(id: string): ApiError {
  return new ApiError(ActionErrors.ACTION_NOT_FOUND, { detail: `No HTTP action ${id}.` });
}

export async function openActionSecret(env: Env, tenantId: string, row: ActionRow): Promise<string> {
  return open(env.MASTER_KEY, SECRET_PURPOSE, `${tenantId}:${row.id}`, row.secret_sealed);
}

/** Registers an action; its signing secret is returned this once and stored sealed. */
export async function createAction(
  ctx: ServiceContext & { tenant: { id: string } },
  input: CreateActionInput,
): Promise<Action & { secret: string }> {
  assertUrl(ctx, input.url);
  const at = new Date().toISOString();
  const id = newId("act");
  const secret = newSigningSecret();
  const row: ActionRow = {
    id,
    name: input.name ?? input.trigger,
    trigger: input.trigger,
    url: input.url,
    timeout_ms: input.timeoutMs,
    failure_policy: input.failurePolicy,
    enabled: input.enabled ? 1 : 0,
    secret_sealed: await seal(ctx.env.MASTER_KEY, SECRET_PURPOSE, `${ctx.tenant.id}:${id}`, secret),
    version: 1,
    created_at: at,
    updated_at: at,
  };
  await ctx.db.batch([
    insertAction(ctx.db, row),
    await auditStatement(
      ctx,
      {
        action: "action.created",
        resource: { type: "action", id },
        changes: { trigger: { from: null, to: row.trigger }, url: { from: null, to: row.url } },
      },
      { at },
    ),
  ]);
  return { ...toAction(row), secret };
}

export async function listActions(ctx: ServiceContext): Promise<Action[]> {
  return (await listActionRows(ctx.db)).map(toAction);
}

export async function getAction(ctx: ServiceContext, id: string): Promise<Action> {
  const row = await findAction(ctx.db, id);
  if (!row) throw notFound(id);
  return toAction(row);
}

export async function updateAction(ctx: ServiceContext, id: string, patch: ActionPatch): Promise<Action> {
  const current = await findAction(ctx.db, id);
  if (!current) throw notFound(id);
  if (patch.url !== undefined) assertUrl(ctx, patch.url);
  const at = new Date().toISOString();
  const next: ActionRow = {
    ...current,
    name: patch.name ?? current.name,
    url: patch.url ?? current.url,
    trigger: patch.trigger ?? current.trigger,
    timeout_ms: patch.timeoutMs ?? current.timeout_ms,
    failure_policy: patch.failurePolicy ?? current.failure_policy,
    enabled: patch.enabled === undefined ? current.enabled : patch.enabled ? 1 : 0,
    updated_at: at,
  };
  const changes = Object.fromEntries(
    (["name", "url", "trigger", "timeout_ms", "failure_policy", "enabled"] as const)
      .filter((key) => next[key] !== current[key])
      .map((key) => [key, { from: current[key], to: next[key] }]),
  );
  if (Object.keys(changes).length === 0) return toAction(current);
  const [result] = await ctx.db.batch([
    updateActionRow(ctx.db, next, current.version),
    await auditStatement(
      ctx,
      { action: "action.updated", resource: { type: "action", id }, changes },
      {
        at,
        onlyIfPreviousChanged: true,
      },
    ),
  ]);
  if ((result?.meta.changes ?? 0) === 0)
    throw new ApiError("CONFLICT", { detail: `Action ${id} changed meanwhile; retry.` });
  return toAction({ ...next, version: current.version + 1 });
}

export async function deleteAction(ctx: ServiceContext, id: string): Promise<void> {
  const current = await findAction(ctx.db, id);
  if (!current) throw notFound(id);
  await ctx.db.batch([
    deleteActionRow(ctx.db, id),
    await auditStatement(
      ctx,
      { action: "action.deleted", resource: { type: "action", id }, changes: { url: { from: current.url, to: null } } },
      { onlyIfPreviousChanged: true },
    ),
    deleteExecutions(ctx.db, id),
  ]);
}

export async function listExecutions(ctx: ServiceContext, id: string, limit: number): Promise<Execution[]> {
  if (!(await findAction(ctx.db, id))) throw notFound(id);
  return listExecutionRows(ctx.db, id, limit);
}
