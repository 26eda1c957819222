import type { ServiceContext } from "../../core/context";
import { controlDb } from "../../core/db/databases";
import { uniqueViolation } from "../../core/db/statements";
import { ApiError, CoreErrors } from "../../core/errors";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { newId } from "../../core/ids";
import { FEATURES, type Feature, PLAN_CONFIG, type Plan, planIncludes, requiredPlan } from "../../core/plans";
import { monthOf, requestsThisMonth } from "../../core/usage/monthly-requests";
import { type AuditEntry, auditStatement } from "../audit/audit.service";
import { countEndpoints } from "../webhooks/webhooks.repo";
import { PlanErrors } from "./plans.errors";
import {
  cancelChangeRequestStatement,
  countUsers,
  findChangeRequest,
  firstChangeRequest,
  insertChangeRequest,
  listChangeRequests as listChangeRequestRows,
  pendingRequestStatement,
  subAccountCountStatement,
  tenantPlanStatement,
} from "./plans.repo";
import type { ChangeRequest, PlanOverview } from "./plans.schema";

function tenantOf(ctx: ServiceContext) {
  if (!ctx.tenant) throw new Error("a tenant service called without a tenant");
  return ctx.tenant;
}

/**
 * Change requests are addressed to the platform, and live in the control database: their audit events go to the
 * platform's trail, in the same batch as the change (the actor is still the tenant's credential, the tenant id is
 * in `changes`), so the record and its event commit together.
 */
async function platformAudit(ctx: ServiceContext, control: D1Database, entry: AuditEntry, at: string) {
  return auditStatement({ ...ctx, db: control, scope: "platform" }, entry, { at, onlyIfPreviousChanged: true });
}

function notFound(id: string): ApiError {
  return new ApiError(PlanErrors.CHANGE_REQUEST_NOT_FOUND, { detail: `No plan change request ${id}.` });
}

/** GET /v1/plan: the tenant's plan, what it includes, its quotas with their usage, and any pending request. */
export async function planOverview(ctx: ServiceContext): Promise<PlanOverview> {
  const tenant = tenantOf(ctx);
  const control = await controlDb(ctx.env);
  const [[planRow, children, pending], users, requests, endpoints] = await Promise.all([
    control.batch([
      tenantPlanStatement(control, tenant.id),
      subAccountCountStatement(control, tenant.id),
      pendingRequestStatement(control, tenant.id),
    ]),
    countUsers(ctx.db),
    requestsThisMonth(ctx.env, [tenant.id]),
    countEndpoints(ctx.db),
  ]);
  // the control database's plan is the truth; the credential's copy may be a few seconds old
  const plan = ((planRow?.results[0] as { plan?: Plan } | undefined)?.plan ?? tenant.plan) as Plan;
  const { quotas, rateLimits } = PLAN_CONFIG[plan];
  return {
    plan,
    features: (Object.keys(FEATURES) as Feature[]).map((name) => ({
      name,
      description: FEATURES[name],
      included: planIncludes(plan, name),
      requiredPlan: requiredPlan(name),
    })),
    quotas: {
      maxUsers: { limit: quotas.maxUsers, used: users },
      requestsPerMonth: { limit: quotas.requestsPerMonth, used: requests.get(tenant.id) ?? 0, period: monthOf() },
      subAccounts: { limit: quotas.subAccounts, used: (children?.results[0] as { n: number } | undefined)?.n ?? 0 },
      webhookEndpoints: { limit: quotas.webhookEndpoints, used: endpoints },
      auditRetentionDays: { limit: quotas.auditRetentionDays },
    },
    rateLimits,
    pendingChangeRequest: firstChangeRequest(pending),
  };
}

/**
 * Records the tenant's request for another plan. One request is pending at a time: a second one is 409
 * CHANGE_REQUEST_PENDING naming the first (cancel it first), so what the platform admin reviews only changes
 * when the tenant says so explicitly.
 */
export async function createChangeRequest(
  ctx: ServiceContext,
  input: { plan: Plan; note?: string | undefined },
): Promise<ChangeRequest> {
  const tenant = tenantOf(ctx);
  const control = await controlDb(ctx.env);
  const current = (await tenantPlanStatement(control, tenant.id).first<{ plan: Plan }>())?.plan ?? tenant.plan;
  if (input.plan === current) {
    throw new ApiError(PlanErrors.PLAN_UNCHANGED, {
      detail: `The tenant is on the ${current} plan already.`,
      extensions: { plan: current },
    });
  }
  const at = new Date().toISOString();
  const request: ChangeRequest = {
    id: newId("pcr"),
    tenantId: tenant.id,
    fromPlan: current,
    toPlan: input.plan,
    note: input.note || null,
    status: "pending",
    createdAt: at,
    resolvedAt: null,
  };
  let inserted: number;
  try {
    const [result] = await control.batch([
      insertChangeRequest(control, request),
      await platformAudit(
        ctx,
        control,
        {
          action: "plan.change_requested",
          resource: { type: "plan_change_request", id: request.id },
          changes: { tenantId: { from: null, to: tenant.id }, plan: { from: current, to: input.plan } },
        },
        at,
      ),
    ]);
    inserted = result?.meta.changes ?? 0;
  } catch (error) {
    if (!uniqueViolation(error)) throw error;
    const pending = firstChangeRequest(await pendingRequestStatement(control, tenant.id).all());
    throw new ApiError(PlanErrors.CHANGE_REQUEST_PENDING, {
      detail: `Request ${pending?.id ?? "(just resolved)"} for ${pending?.toPlan ?? "another plan"} is pending; cancel it first (DELETE /v1/plan/change-requests/{id}).`,
      extensions: { pendingRequestId: pending?.id ?? null },
    });
  }
  if (inserted === 0) {
    throw new ApiError(CoreErrors.CONFLICT, { detail: "The tenant's plan changed meanwhile; read it again." });
  }
  return request;
}

export interface ChangeRequestQuery {
  limit: number;
  cursor?: string | undefined;
  status?: ChangeRequest["status"] | undefined;
  tenantId?: string | undefined;
}

/** Newest first. A tenant credential lists its own requests only; the admin token every tenant's. */
export async function listChangeRequests(ctx: ServiceContext, query: ChangeRequestQuery) {
  const own = ctx.tenant?.id;
  const kind = "plan-change-requests";
  const position = query.cursor ? decodeCursor(kind, query.cursor, ["string", "string"]) : null;
  // a tenant asking for another tenant's requests gets its own that are also that tenant's: none
  if (own && query.tenantId !== undefined && query.tenantId !== own) return { data: [], nextCursor: null };
  const rows = await listChangeRequestRows(
    await controlDb(ctx.env),
    {
      tenantId: own ?? query.tenantId,
      status: query.status,
      before: position ? { createdAt: position[0], id: position[1] } : null,
    },
    query.limit + 1,
  );
  return pageOf(
    rows,
    query.limit,
    kind,
    (row) => [row.createdAt, row.id],
    (row) => row,
  );
}

/** Cancels a pending request: the tenant its own, the platform admin any (declining it). */
export async function cancelChangeRequest(ctx: ServiceContext, id: string): Promise<ChangeRequest> {
  const own = ctx.tenant?.id ?? null;
  const control = await controlDb(ctx.env);
  const at = new Date().toISOString();
  const [cancelled] = await control.batch([
    cancelChangeRequestStatement(control, id, own, at),
    await platformAudit(
      ctx,
      control,
      {
        action: "plan.change_request_cancelled",
        resource: { type: "plan_change_request", id },
        changes: { status: { from: "pending", to: "cancelled" } },
      },
      at,
    ),
  ]);
  const request = firstChangeRequest(cancelled);
  if (request) return request;
  const existing = await findChangeRequest(control, id, own);
  if (!existing) throw notFound(id);
  throw new ApiError(PlanErrors.CHANGE_REQUEST_NOT_PENDING, {
    detail: `Request ${id} is ${existing.status}; only a pending request can be cancelled.`,
  });
}
