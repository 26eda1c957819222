import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { activeBetween, type Behaviour, behaviourAsOf } from "../activity/behaviour";
import { auditStatement } from "../audit/audit.service";
import * as users from "../users/users.service";
import { ChurnErrors } from "./churn.errors";
import { auc, bandOf, FEATURES, factorsOf, precisionAtK, scoreOf, type TrainedModel, train } from "./churn.model";
import { listScores, readModel, readScore, replaceModelStatements, type ScoreRow, templateEvents } from "./churn.repo";
import type { ChurnListQuery, ChurnModelReport, ChurnRisk } from "./churn.schema";
import { suggestionFor } from "./churn.suggestions";

const DAY_MS = 86_400_000;
/** The label: no activity in the LABEL_DAYS after the cut-off. */
const LABEL_DAYS = 30;
const CUTOFF_STEP_DAYS = 7;
/** The latest labelled cut-offs are the holdout. */
const HOLDOUT_CUTOFFS = 2;
/** At most this many training cut-offs (26 weeks back from the holdout). */
const MAX_TRAINING_CUTOFFS = 26;
/** A cut-off needs this much history before it for its features to mean anything. */
const MIN_HISTORY_DAYS = 14;
/** Training rows beyond this are sampled (evenly, deterministically), to bound the cron's CPU time. */
const MAX_TRAINING_ROWS = 5_000;
/**
 * Rows kept per cut-off (sampled evenly beyond), to bound memory on large tenants (a Worker has 128 MB): 26 training
 * cut-offs of a 100,000-user tenant would otherwise hold millions of rows at once.
 */
const MAX_ROWS_PER_CUTOFF = { training: 2_000, holdout: 10_000 };

const midnight = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The cut-offs: UTC midnights every 7 days. The latest ones whose 30-day label window has ended are the holdout;
 * training uses only cut-offs whose label window ends before the first holdout cut-off, so nothing the holdout is
 * judged on (its features or its labels) was seen in training.
 */
export function cutoffsFor(now: number, firstActivity: number): { training: number[]; holdout: number[] } {
  const latest = midnight(now) - LABEL_DAYS * DAY_MS;
  const holdout = Array.from({ length: HOLDOUT_CUTOFFS }, (_, i) => latest - i * CUTOFF_STEP_DAYS * DAY_MS).reverse();
  const firstHoldout = holdout[0] ?? latest;
  const training: number[] = [];
  for (let c = latest; training.length < MAX_TRAINING_CUTOFFS; c -= CUTOFF_STEP_DAYS * DAY_MS) {
    if (c < firstActivity + MIN_HISTORY_DAYS * DAY_MS) break;
    if (c + LABEL_DAYS * DAY_MS <= firstHoldout) training.unshift(c);
  }
  return { training, holdout: holdout.filter((c) => c >= firstActivity + MIN_HISTORY_DAYS * DAY_MS) };
}

interface Labelled {
  behaviour: Behaviour;
  churned: boolean;
}

/**
 * The population at a cut-off: users (deleted since included) active on some day of the 30 days before it, i.e.
 * still customers; labelled churned when not active on any day of the 30 days after it.
 */
async function labelledAt(db: D1Database, cutoff: number): Promise<Labelled[]> {
  const [behaviours, active] = await Promise.all([
    behaviourAsOf(db, cutoff, { includeDeleted: true, importedHistory: true }),
    activeBetween(db, cutoff, cutoff + LABEL_DAYS * DAY_MS),
  ]);
  return behaviours
    .filter((b) => b.activeDays30 > 0)
    .map((behaviour) => ({ behaviour, churned: !active.has(behaviour.userId) }));
}

async function labelledOver(db: D1Database, cutoffs: number[], perCutoff: number): Promise<Labelled[]> {
  const rows: Labelled[] = [];
  for (const cutoff of cutoffs) rows.push(...sampled(await labelledAt(db, cutoff), perCutoff));
  return rows;
}

function sampled<T>(rows: T[], max: number): T[] {
  if (rows.length <= max) return rows;
  const step = rows.length / max;
  return Array.from({ length: max }, (_, i) => rows[Math.floor(i * step)] as T);
}

const rounded = (x: number, digits = 4) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);
const rate = (rows: Labelled[]) => rounded(rows.filter((r) => r.churned).length / Math.max(1, rows.length)) ?? 0;

/** The model and its report: trained on the training cut-offs, evaluated with the baseline on the holdout. */
async function fitModel(
  db: D1Database,
  now: number,
): Promise<{ model: TrainedModel; report: ChurnModelReport } | null> {
  const first = await db.prepare("SELECT min(day) AS day FROM activity_daily").first<{ day: string | null }>();
  if (!first?.day) return null;
  const cutoffs = cutoffsFor(now, Date.parse(first.day));
  const training = await labelledOver(db, cutoffs.training, MAX_ROWS_PER_CUTOFF.training);
  const holdout = await labelledOver(db, cutoffs.holdout, MAX_ROWS_PER_CUTOFF.holdout);
  const bothClasses = (rows: Labelled[]) => rows.some((r) => r.churned) && rows.some((r) => !r.churned);
  if (!bothClasses(training) || !bothClasses(holdout)) return null;
  const model = train(sampled(training, MAX_TRAINING_ROWS));
  const labels = holdout.map((r) => r.churned);
  const scores = holdout.map((r) => scoreOf(model, r.behaviour));
  const recency = holdout.map((r) => r.behaviour.recencyDays);
  const k = Math.max(1, Math.round(holdout.length / 10));
  const report: ChurnModelReport = {
    trainedAt: iso(now),
    cutoffs: { training: cutoffs.training.map(iso), holdout: cutoffs.holdout.map(iso) },
    trainingRows: training.length,
    holdoutRows: holdout.length,
    churnRate: { training: rate(training), holdout: rate(holdout) },
    features: [...FEATURES],
    auc: rounded(auc(scores, labels)),
    precisionAtK: rounded(precisionAtK(scores, labels, k)),
    k,
    baseline: { auc: rounded(auc(recency, labels)), precisionAtK: rounded(precisionAtK(recency, labels, k)) },
    coefficients: {
      intercept: rounded(model.intercept, 6) ?? 0,
      ...Object.fromEntries(FEATURES.map((f, j) => [f, rounded(model.coefficients[j] ?? 0, 6) ?? 0])),
    },
    standardisation: Object.fromEntries(
      FEATURES.map((f, j) => [
        f,
        { mean: rounded(model.means[j] ?? 0, 6) ?? 0, std: rounded(model.stds[j] ?? 1, 6) ?? 1 },
      ]),
    ),
  };
  return { model, report };
}

/** Every live user scored as of `now`. */
async function scoresNow(db: D1Database, model: TrainedModel, now: number): Promise<ScoreRow[]> {
  const [behaviours, templates] = await Promise.all([
    behaviourAsOf(db, now, { importedHistory: true }),
    templateEvents(db),
  ]);
  const scoredAt = iso(now);
  return behaviours.map((b) => {
    const score = rounded(scoreOf(model, b), 6) ?? 0;
    const band = bandOf(score);
    return {
      userId: b.userId,
      score,
      band,
      factors: factorsOf(model, b),
      suggestion: suggestionFor(b, band, templates),
      scoredAt,
    };
  });
}

/**
 * Trains the tenant's model and rescores every live user, in one batch (the model, the scores and, when a caller
 * asked, its audit row). Null when the history cannot label both classes in training and holdout.
 */
export async function retrain(
  ctx: Pick<ServiceContext, "db">,
  audit?: ServiceContext,
): Promise<ChurnModelReport | null> {
  const now = Date.now();
  const fitted = await fitModel(ctx.db, now);
  if (!fitted) return null;
  const scores = await scoresNow(ctx.db, fitted.model, now);
  const statements = replaceModelStatements(ctx.db, fitted.report, scores);
  if (audit) {
    statements.push(
      await auditStatement(
        audit,
        {
          action: "churn_model.trained",
          resource: { type: "churn_model", id: "current" },
          changes: { trainedAt: { from: null, to: fitted.report.trainedAt } },
        },
        { at: fitted.report.trainedAt },
      ),
    );
  }
  await ctx.db.batch(statements);
  return fitted.report;
}

/** POST /v1/insights/churn/model/train. */
export async function trainNow(ctx: ServiceContext): Promise<ChurnModelReport> {
  const report = await retrain(ctx, ctx);
  if (!report) {
    throw new ApiError(ChurnErrors.CHURN_NOT_ENOUGH_HISTORY, {
      detail:
        `Training needs activity at least ${LABEL_DAYS + MIN_HISTORY_DAYS} days old, with users who stayed and ` +
        "users who left both in the training and the holdout cut-offs (docs/churn.md).",
    });
  }
  return report;
}

async function currentModel(ctx: ServiceContext): Promise<ChurnModelReport> {
  const model = await readModel(ctx.db);
  if (!model) {
    throw new ApiError(ChurnErrors.CHURN_MODEL_NOT_TRAINED, {
      detail: "The daily cron trains it, or POST /v1/insights/churn/model/train now.",
    });
  }
  return model;
}

export const modelReport = currentModel;

const toRisk = (row: ScoreRow, model: ChurnModelReport): ChurnRisk => ({ ...row, modelTrainedAt: model.trainedAt });

/** GET /v1/users/{id}/churn-risk: 404 for a user the caller cannot see, or not scored yet. */
export async function churnRisk(ctx: ServiceContext, userId: string): Promise<ChurnRisk> {
  await users.getUser(ctx, userId, false);
  const model = await currentModel(ctx);
  const score = await readScore(ctx.db, userId);
  if (!score) {
    throw new ApiError(ChurnErrors.CHURN_NOT_SCORED, {
      detail: "Users created after the last training are scored by the next one.",
    });
  }
  return toRisk(score, model);
}

/** GET /v1/insights/churn: live users by score, highest first. */
export async function churnList(ctx: ServiceContext, query: ChurnListQuery) {
  const model = await currentModel(ctx);
  const after = query.cursor ? decodeCursor("churn", query.cursor, ["number", "string"] as const) : null;
  const rows = await listScores(ctx.db, {
    ...(query.band ? { band: query.band } : {}),
    after,
    limit: query.limit,
  });
  return pageOf(
    rows,
    query.limit,
    "churn",
    (row) => [row.score, row.userId],
    (row) => toRisk(row, model),
  );
}
