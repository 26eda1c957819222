import { backgroundContext, type ServiceContext } from "../../core/context";
import { tenantDatabases } from "../../core/db/databases";
import { type Plan, planIncludes } from "../../core/plans";
import { behaviourAsOf } from "../activity/behaviour";
import { auditStatement } from "../audit/audit.service";
import { segmentFilter } from "./segments.filter";
import { learnSegments } from "./segments.learning";
import {
  findLearnedRow,
  findTraining,
  type LearnedSegmentRow,
  learnedCounts,
  listLearnedRows,
  replaceLearnedStatements,
  type TrainingRow,
} from "./segments.repo";
import type { CentroidValues, Learning, Segment } from "./segments.schema";

/**
 * Retraining the learned segments (docs/segments.md): daily from cron for the tenants whose plan has `segments`, and on
 * demand. Each training replaces the previous one's segments and members in one batch (with its audit row when asked
 * through the API).
 */

/** Below this many users, clusters would describe individuals rather than groups: no learned segments. */
export const MIN_USERS = 50;
/** The k-means seed: the same users with the same behaviour always give the same segments. */
export const SEED = 20_240_601;

function toLearned(row: LearnedSegmentRow, count: number | null): Segment {
  return {
    name: row.name,
    kind: "learned",
    description: row.description,
    filter: segmentFilter(row.name),
    count,
    size: row.size,
    centroid: JSON.parse(row.centroid) as CentroidValues,
    silhouette: row.silhouette,
    trainedAt: row.trained_at,
    createdAt: null,
    updatedAt: null,
  };
}

/** The learned segments (or the one named), with their live member counts when asked. */
export async function learnedSegments(db: D1Database, withCounts: boolean, only?: string): Promise<Segment[]> {
  const one = only === undefined ? undefined : await findLearnedRow(db, only);
  const rows = one === undefined ? await listLearnedRows(db) : one ? [one] : [];
  if (rows.length === 0) return [];
  const live = withCounts ? await learnedCounts(db) : null;
  return rows.map((row) => toLearned(row, live ? (live.get(row.name) ?? 0) : null));
}

export async function learningState(db: D1Database): Promise<Learning> {
  const row = await findTraining(db);
  if (!row) {
    return {
      status: "never_trained",
      k: null,
      silhouette: null,
      users: 0,
      minimumUsers: MIN_USERS,
      detail: "Not trained yet: retrained daily, or now with POST /v1/segments/learned/retrain.",
      trainedAt: null,
    };
  }
  return {
    status: row.status,
    k: row.k,
    silhouette: row.silhouette,
    users: row.users,
    minimumUsers: MIN_USERS,
    detail: row.detail,
    trainedAt: row.trained_at,
  };
}

/**
 * Clusters the tenant's live users by their behaviour as of `now` and replaces the learned segments. A tenant with
 * fewer than MIN_USERS users gets none (its previous ones are dropped too: they described users who may be gone).
 */
export async function retrainLearnedSegments(
  ctx: ServiceContext,
  now = Date.now(),
): Promise<{ learning: Learning; segments: Segment[] }> {
  const behaviours = await behaviourAsOf(ctx.db, now);
  const at = new Date(now).toISOString();
  const clustering = behaviours.length >= MIN_USERS ? learnSegments(behaviours, SEED) : null;
  const training: TrainingRow = clustering
    ? {
        status: "trained",
        k: clustering.k,
        silhouette: clustering.silhouette,
        users: behaviours.length,
        detail: `${clustering.k} segments of ${behaviours.length} users, chosen by silhouette among k = 2..6.`,
        trained_at: at,
      }
    : {
        status: "too_few_users",
        k: null,
        silhouette: null,
        users: behaviours.length,
        detail:
          behaviours.length >= MIN_USERS
            ? `The ${behaviours.length} users behave too much alike to form segments.`
            : `${behaviours.length} users; learned segments need at least ${MIN_USERS}.`,
        trained_at: at,
      };
  const segments: LearnedSegmentRow[] = (clustering?.clusters ?? []).map((cluster) => ({
    name: cluster.name,
    description: cluster.description,
    size: cluster.memberIds.length,
    centroid: JSON.stringify(cluster.centroid),
    silhouette: cluster.silhouette,
    trained_at: at,
  }));
  const members = (clustering?.clusters ?? []).flatMap((cluster) =>
    cluster.memberIds.map((userId) => ({ userId, segment: cluster.name })),
  );
  // a retraining asked through the API is audited; the daily cron's is system work, like the churn model's
  const audit =
    ctx.actor.type === "system"
      ? []
      : [
          await auditStatement(
            ctx,
            {
              action: "segment.learned_retrained",
              resource: { type: "segment", id: null },
              changes: {
                learned: { from: null, to: segments.map((s) => s.name) },
                status: { from: null, to: training.status },
              },
            },
            { at },
          ),
        ];
  await ctx.db.batch([...replaceLearnedStatements(ctx.db, { segments, members, training }), ...audit]);
  return { learning: await learningState(ctx.db), segments: await learnedSegments(ctx.db, true) };
}

/** The daily job for one tenant (src/jobs.ts): only on a plan with `segments`. */
export async function retrainForCron(
  env: Env,
  tenant: { tenant_id: string; binding: string; plan: Plan },
  now = Date.now(),
): Promise<void> {
  if (!planIncludes(tenant.plan, "segments")) return;
  const db = await tenantDatabases.forTenant(env, { databaseBinding: tenant.binding });
  await retrainLearnedSegments(backgroundContext(env, tenant.tenant_id, db, "learned-segments"), now);
}
