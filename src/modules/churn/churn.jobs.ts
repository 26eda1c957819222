import { tenantDatabases } from "../../core/db/databases";
import { PLAN_CONFIG, type Plan } from "../../core/plans";
import { retrain } from "./churn.service";

/**
 * Daily (src/jobs.ts): retrains the churn model of a tenant whose plan has `churn` and rescores its users. A tenant
 * without enough history yet is skipped quietly: it simply has no model (or keeps its last one).
 */
export async function retrainChurnModel(env: Env, tenant: { binding: string; plan: Plan }): Promise<void> {
  if (!PLAN_CONFIG[tenant.plan].features.includes("churn")) return;
  await retrain({ db: await tenantDatabases.forTenant(env, { databaseBinding: tenant.binding }) });
}
