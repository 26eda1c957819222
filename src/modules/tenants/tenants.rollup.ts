import { tenantDatabases } from "../../core/db/databases";
import { requestsThisMonth } from "../../core/usage/monthly-requests";
import { listTenants, type TenantRow } from "./tenants.repo";
import type { TenantWithChildren } from "./tenants.schema";

type SubAccountSummary = TenantWithChildren["children"][number];

/** The rollup lists at most this many sub-accounts (the oldest): one query to each one's database. */
export const ROLLUP_CHILDREN = 100;
/** Sub-account databases asked at once. */
const CONCURRENCY = 10;

/** Users of a tenant, soft-deleted ones excluded: one count in its own database. */
async function liveUsers(env: Env, tenant: Pick<TenantRow, "databaseBinding">): Promise<number> {
  const db = await tenantDatabases.forTenant(env, tenant);
  const row = await db.prepare("SELECT count(*) AS n FROM users WHERE deleted_at IS NULL").first<{ n: number }>();
  return row?.n ?? 0;
}

/** The direct sub-accounts of `parentId` (the oldest ROLLUP_CHILDREN) with their user and request counts. */
export async function childrenRollup(env: Env, control: D1Database, parentId: string): Promise<SubAccountSummary[]> {
  const children = await listTenants(control, null, ROLLUP_CHILDREN, parentId);
  const requests = await requestsThisMonth(
    env,
    children.map((child) => child.id),
  );
  const users: number[] = [];
  for (let i = 0; i < children.length; i += CONCURRENCY) {
    users.push(...(await Promise.all(children.slice(i, i + CONCURRENCY).map((child) => liveUsers(env, child)))));
  }
  return children.map((child, i) => ({
    id: child.id,
    name: child.name,
    plan: child.plan,
    users: users[i] ?? 0,
    requestsThisMonth: requests.get(child.id) ?? 0,
  }));
}
