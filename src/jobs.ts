import { controlDb, tenantDatabases } from "./core/db/databases";
import { sweepOutbox } from "./core/events/dispatch";
import { sweepPlatformOutbox } from "./core/events/platform";
import { purgeOldEvents } from "./core/events/retention";
import { loggableError } from "./core/http/error-handler";
import type { Plan } from "./core/plans";
import { purgeActivity } from "./modules/activity/activity.retention";
import { sealAuditTrail } from "./modules/audit/audit.service";
import { retrainChurnModel } from "./modules/churn/churn.jobs";
import { rollUpInsights } from "./modules/insights/insights.rollup";
import { remindInactiveUsers } from "./modules/notifications/reminders";
import { purgeNotificationLog, sweepNotifications } from "./modules/notifications/sweeper";
import { oauthDailyMaintenance } from "./modules/oauth/maintenance";
import { runScheduledReports } from "./modules/reports/reports.runner";
import { continueSchemaJobs } from "./modules/schema/fields.jobs";
import { retrainForCron } from "./modules/segments/segments.learned";
import { continueDataKeyRotations } from "./modules/tenants/tenants.keys.service";
import { reclaimOrphanedDatabases } from "./modules/tenants/tenants.service";
import { purgeWebhookDeliveries, sweepWebhookDeliveries } from "./modules/webhooks/webhooks.sweeper";

// a spent or expired token decides nothing any more (the confirm endpoints refuse both alike)
const PURGE_USER_TOKENS = "DELETE FROM user_tokens WHERE expires_at <= ?";

/** The control database among the tenants' in the jobs below (its plan is never read). */
const PLATFORM: AssignedDatabase = { tenant_id: "platform", binding: "CONTROL_DB", plan: "enterprise" };

interface AssignedDatabase {
  tenant_id: string;
  binding: string;
  plan: Plan;
}

/**
 * Every minute: seal the audit chains, so `hash` is set within a minute even on trails nobody reads; send the outbox
 * events (the tenants' and the platform's) never sent or not acknowledged within a minute; re-enqueue webhook
 * deliveries and notifications whose queue message was lost; carry on custom-field changes still being applied to
 * users; run the scheduled reports due at `scheduledTime` (docs/reports.md); then unfinished data-key rotations
 * (re-encrypting users in bounded batches).
 */
export async function sealAllAuditTrails(env: Env, scheduledTime = Date.now()): Promise<void> {
  const control = await controlDb(env);
  const trails = [PLATFORM, ...(await assignedDatabases(control))];
  await eachOf("seal audit trail", env, trails, async ({ tenant_id, binding, plan }) => {
    const db = binding === "CONTROL_DB" ? control : await tenantDatabases.forTenant(env, { databaseBinding: binding });
    await sealAuditTrail({ env, db, scope: tenant_id });
    if (binding === "CONTROL_DB") {
      await sweepPlatformOutbox(env, db);
      return;
    }
    await continueSchemaJobs({ env, db, scope: tenant_id });
    await sweepOutbox(env, tenant_id, db);
    await sweepWebhookDeliveries(env, tenant_id, db);
    await sweepNotifications(env, tenant_id, db);
    await runScheduledReports(env, tenant_id, plan, db, scheduledTime);
  }).finally(() => continueDataKeyRotations(env));
}

/**
 * Daily: drop expired Idempotency-Key records and expired reset / verification tokens, delivered (or dead) outbox
 * events older than EVENT_RETENTION_DAYS, settled webhook deliveries and notifications older than
 * DELIVERY_LOG_RETENTION_DAYS, finish tenant deletions that stopped half-way, rotate the token signing key
 * when due and drop ended refresh tokens; roll up the insights' closed days (docs/insights.md); remind users who
 * never signed in (activation reminders, docs/notifications.md); retrain the learned segments and the churn models
 * of the tenants whose plan has them (docs/segments.md, docs/churn.md).
 */
export async function dailyMaintenance(env: Env): Promise<void> {
  const control = await controlDb(env);
  const now = new Date().toISOString();
  const purge = "DELETE FROM idempotency_keys WHERE expires_at <= ?";
  const tenantsOnly = await assignedDatabases(control);
  const databases = [PLATFORM, ...tenantsOnly];
  await allOf([
    () =>
      eachOf("purge idempotency keys", env, databases, async ({ tenant_id, binding, plan }) => {
        const db =
          binding === "CONTROL_DB" ? control : await tenantDatabases.forTenant(env, { databaseBinding: binding });
        await db.prepare(purge).bind(now).run();
        await purgeOldEvents(env, db, binding === "CONTROL_DB" ? "platform_events" : "outbox_events");
        if (binding === "CONTROL_DB") return;
        await db.prepare(PURGE_USER_TOKENS).bind(now).run();
        await purgeWebhookDeliveries(env, db);
        await purgeNotificationLog(env, db);
        await purgeActivity(db, plan);
        await rollUpInsights(env, tenant_id, db);
      }),
    () =>
      eachOf("activation reminders", env, tenantsOnly, async ({ tenant_id, binding }) => {
        await remindInactiveUsers(env, tenant_id, await tenantDatabases.forTenant(env, { databaseBinding: binding }));
      }),
    () => eachOf("learned segments", env, tenantsOnly, (tenant) => retrainForCron(env, tenant)),
    () => eachOf("churn models", env, tenantsOnly, (tenant) => retrainChurnModel(env, tenant)),
    () => reclaimOrphanedDatabases(env, control),
    () => oauthDailyMaintenance(env),
  ]);
}

/** Runs every job, one after the other, whatever the ones before did; then fails with all their failures, if any. */
async function allOf(jobs: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const job of jobs) {
    try {
      await job();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new AggregateError(failures, messages.join("; "));
  }
}

/**
 * Runs a job on every database, one after the other. One tenant's broken database must not stop the job
 * for the tenants after it: failures are logged, the rest carry on, and the run then fails as a whole
 * (so the cron invocation shows as failed).
 */
async function eachOf(
  job: string,
  env: Env,
  databases: AssignedDatabase[],
  run: (database: AssignedDatabase) => Promise<void>,
): Promise<void> {
  const failures: unknown[] = [];
  for (const database of databases) {
    try {
      await run(database);
    } catch (error) {
      failures.push(error);
      if (env.LOG_LEVEL !== "silent") {
        console.error(
          JSON.stringify({
            level: "error",
            msg: `${job} failed`,
            tenantId: database.tenant_id,
            binding: database.binding,
            error: loggableError(error),
          }),
        );
      }
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${job} failed for ${failures.length} database(s)`);
}

async function assignedDatabases(control: D1Database): Promise<AssignedDatabase[]> {
  const { results } = await control
    .prepare("SELECT t.id AS tenant_id, t.database_binding AS binding, t.plan FROM tenants t ORDER BY t.id")
    .all<AssignedDatabase>();
  return results;
}
