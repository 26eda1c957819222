import { type AccountChain, loadAccountChain, MAX_ACCOUNT_DEPTH } from "../../core/auth/account";
import { ApiError, CoreErrors } from "../../core/errors";
import { validationError } from "../../core/http/validation";
import { PLAN_CONFIG, PLANS, type Plan, quotaExceeded } from "../../core/plans";
import { TenantErrors } from "./tenants.errors";
import { countChildren } from "./tenants.repo";

/**
 * Who manages tenants: the platform admin token (every tenant), or a tenant credential (its own tenant, the one
 * it acts on with Uom-Account, and that tenant's sub-accounts, docs/sub-accounts.md).
 */
export type Caller = { kind: "admin" } | { kind: "tenant"; tenantId: string };

export const ADMIN_CALLER: Caller = { kind: "admin" };

export function tenantNotFound(id: string): ApiError {
  return new ApiError(TenantErrors.TENANT_NOT_FOUND, { detail: `No tenant ${id}.` });
}

/** Whether the caller reaches the tenant of this chain: itself or one of its descendants (the admin: all). */
export function reaches(caller: Caller, chain: AccountChain): boolean {
  return caller.kind === "admin" || chain.tenant.id === caller.tenantId || chain.ancestors.includes(caller.tenantId);
}

/**
 * The tenant's chain when the caller reaches it; otherwise the same 404 as an unknown tenant (another tenant's, a
 * parent's or a sibling's id reveals nothing). Read fresh from the control database: it decides writes.
 */
export async function reachableChain(control: D1Database, caller: Caller, id: string): Promise<AccountChain> {
  const chain = await loadAccountChain(control, id);
  if (!chain || !reaches(caller, chain)) throw tenantNotFound(id);
  return chain;
}

/**
 * The parent a new tenant goes under, and its plan: with a tenant key, its own tenant unless it names one of its
 * sub-accounts (else 404); the admin names any tenant (an unknown one is a 400, as before sub-accounts), or none.
 */
export async function parentOfNew(
  control: D1Database,
  caller: Caller,
  parentId: string | null | undefined,
): Promise<AccountChain | null> {
  const id = parentId ?? (caller.kind === "tenant" ? caller.tenantId : null);
  if (!id) return null;
  const chain = await loadAccountChain(control, id);
  if (caller.kind === "admin" && !chain) {
    throw validationError([{ field: "parentId", code: "not_found", detail: `No tenant ${id}.` }], "body");
  }
  if (!chain || !reaches(caller, chain)) throw tenantNotFound(id);
  return chain;
}

function rank(plan: Plan): number {
  return PLANS.indexOf(plan);
}

/**
 * The new tenant's plan (default: its parent's, or free) and the checks of a sub-account: not above the parent's
 * plan (a tenant key; the admin sets plans), not deeper than MAX_ACCOUNT_DEPTH (everyone), and within the parent's
 * plan quota `subAccounts` (a tenant key). Returns the quota to enforce again at the insert (null: none).
 */
export async function checkNewTenant(
  control: D1Database,
  caller: Caller,
  parent: AccountChain | null,
  requested: Plan | undefined,
): Promise<{ plan: Plan; quota: number | null }> {
  const plan = requested ?? parent?.tenant.plan ?? "free";
  if (!parent) return { plan, quota: null };
  if (caller.kind === "tenant" && rank(plan) > rank(parent.tenant.plan)) {
    throw validationError(
      [
        {
          field: "plan",
          code: "exceeds_parent",
          detail: `A sub-account's plan may not be above its parent's (${parent.tenant.plan}).`,
        },
      ],
      "body",
    );
  }
  // a root tenant is level 1: the parent's level is its ancestors plus one, the child's one more
  const depth = parent.ancestors.length + 2;
  if (depth > MAX_ACCOUNT_DEPTH) {
    throw new ApiError(TenantErrors.SUB_ACCOUNT_DEPTH_EXCEEDED, {
      detail: `Sub-accounts nest at most ${MAX_ACCOUNT_DEPTH} levels deep (a root tenant is level 1); this one would be level ${depth}.`,
      extensions: { maxDepth: MAX_ACCOUNT_DEPTH },
    });
  }
  if (caller.kind === "admin") return { plan, quota: null };
  const quota = PLAN_CONFIG[parent.tenant.plan].quotas.subAccounts;
  await assertRoomFor(control, parent, quota);
  return { plan, quota };
}

/** 403 QUOTA_EXCEEDED when the parent has `quota` direct sub-accounts already. */
export async function assertRoomFor(control: D1Database, parent: AccountChain, quota: number): Promise<void> {
  const used = await countChildren(control, parent.tenant.id);
  if (used >= quota) throw quotaExceeded("subAccounts", parent.tenant.plan, quota, used);
}

/** A tenant credential renames; the plan is the platform's to change (the admin token, after a change request). */
export function assertMayChangePlan(caller: Caller, from: Plan, to: Plan | undefined): void {
  if (caller.kind === "admin" || to === undefined || to === from) return;
  throw new ApiError(CoreErrors.FORBIDDEN, {
    detail: "A tenant's plan is changed by the platform: ask for another plan with POST /v1/plan/change-requests.",
  });
}

/** A tenant credential deletes its sub-accounts, never its own tenant (the platform admin does that). */
export function assertMayDelete(caller: Caller, id: string): void {
  if (caller.kind === "tenant" && caller.tenantId === id) {
    throw new ApiError(CoreErrors.FORBIDDEN, {
      detail: "A tenant credential cannot delete its own tenant; the platform admin token can.",
    });
  }
}
