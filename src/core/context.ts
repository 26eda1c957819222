import type { Context } from "hono";
import type { Actor, AppEnv, RequestInfo, TenantRef } from "../env";
import { accountRightsOf } from "./auth/account";
import type { Grants } from "./auth/grants";
import type { AccountRights } from "./auth/permissions";
import { controlDb, tenantDatabases } from "./db/databases";
import { clientAddress } from "./http/client-address";
import { newId } from "./ids";

/**
 * What a service needs, and nothing of Hono: services take this plain object, so they run the same from a
 * route, a queue consumer, a cron job or a test.
 */
export interface ServiceContext {
  env: Env;
  /** The database this request's scope lives in: the tenant's own, or the control database for the platform. */
  db: D1Database;
  /** The scope audit keys and idempotency keys are bound to: the tenant id, or "platform". */
  scope: string;
  tenant: TenantRef | null;
  actor: Actor;
  /**
   * What the caller may do, when it is a tenant credential; absent for the admin token and for system work
   * (cron, queue), which act without a role.
   */
  permissions?: Grants;
  /**
   * What that credential holds in a sub-account of `tenant`, for role assignments scoped to one (`role@account`);
   * absent with `permissions`.
   */
  accountRights?: AccountRights;
  request: RequestInfo;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * The context of work the service does on its own (a cron job, a queue consumer): audited as `system:<actorId>`,
 * acting without a role, with a request id of its own; promises handed to waitUntil run on and their failures are
 * dropped (the work that made them logs what matters).
 */
export function backgroundContext(
  env: Env,
  scope: string,
  db: D1Database,
  actorId: string,
  tenant: TenantRef | null = null,
): ServiceContext {
  return {
    env,
    db,
    scope,
    tenant,
    actor: { type: "system", id: actorId },
    request: { requestId: newId("req"), ip: null, userAgent: null },
    waitUntil: (promise) => void promise.catch(() => undefined),
  };
}

export function requestInfo(c: Context<AppEnv>): RequestInfo {
  return {
    requestId: c.get("requestId"),
    ip: clientAddress(c),
    userAgent: c.req.header("user-agent") ?? null,
  };
}

/** The request's `waitUntil`, or (no execution context: app.request in a unit test) a promise left to run. */
export function waitUntilOf(c: Context<AppEnv>): (promise: Promise<unknown>) => void {
  return (promise) => {
    try {
      c.executionCtx.waitUntil(promise);
    } catch {
      // No execution context (app.request in a unit test): let the promise run on its own.
      promise.catch(() => undefined);
    }
  };
}

/** The service context of the authenticated request (tenant or platform scope). */
export async function serviceContext(c: Context<AppEnv>): Promise<ServiceContext> {
  const auth = c.get("auth");
  const base = { env: c.env, actor: auth.actor, request: requestInfo(c), waitUntil: waitUntilOf(c) };
  if (auth.kind === "tenant") {
    const db = await tenantDatabases.forTenant(c.env, auth.tenant);
    return {
      ...base,
      db,
      scope: auth.tenant.id,
      tenant: auth.tenant,
      permissions: auth.permissions,
      accountRights: accountRightsOf(auth),
    };
  }
  return { ...base, db: await controlDb(c.env), scope: "platform", tenant: null };
}
