import LogisticRegressionTwoClasses from "ml-logistic-regression/src/logreg_2classes.js";
import { Matrix } from "ml-matrix";
import type { Behaviour } from "../activity/behaviour";

/**
 * The churn model itself, free of storage: features from a user's behaviour, training (logistic regression from
 * ml-logistic-regression), scores, the explanation of a score, and the holdout metrics (docs/churn.md).
 */

/**
 * The features the model reads, in its coefficients' order: the behaviour (src/modules/activity/behaviour.ts) and
 * one derived from it, `recencyVsHabit`: the days since last active over the user's usual gap between active days
 * (30 / active days in the last 30). Five quiet days mean nothing for a user active twice a month and a lot for a
 * daily one; recency alone cannot tell them apart.
 */
export const FEATURES = [
  "recencyDays",
  "recencyVsHabit",
  "tenureDays",
  "activeDays7",
  "activeDays30",
  "events30",
  "logins30",
  "failedLogins30",
  "breadth30",
] as const satisfies readonly (keyof Behaviour | "recencyVsHabit")[];
export type Feature = (typeof FEATURES)[number];

/** How each feature reads in a factor's words. */
const FEATURE_WORDS: Record<Feature, string> = {
  recencyDays: "days since last active",
  recencyVsHabit: "times the usual gap between active days since last active",
  tenureDays: "days since sign-up",
  activeDays7: "active days in the last 7",
  activeDays30: "active days in the last 30",
  events30: "product events in the last 30 days",
  logins30: "logins in the last 30 days",
  failedLogins30: "failed logins in the last 30 days",
  breadth30: "kinds of product activity in the last 30 days",
};

export interface TrainedModel {
  features: readonly Feature[];
  /** Standardisation of each log1p-transformed feature, from the training rows. */
  means: number[];
  stds: number[];
  /** The logit: intercept + Σ coefficient × standardised feature. */
  intercept: number;
  coefficients: number[];
}

/** Counts and days are heavy-tailed: log1p first, so a user with 300 events is not 10 times one with 30. */
const transformed = (b: Behaviour): number[] => FEATURES.map((f) => Math.log1p(Math.max(0, featureValue(b, f))));

function featureValue(b: Behaviour, feature: Feature): number {
  if (feature === "recencyVsHabit") return b.recencyDays / (30 / Math.max(1, b.activeDays30));
  return b[feature];
}

function standardiser(rows: number[][]): { means: number[]; stds: number[] } {
  const n = rows.length;
  const means = FEATURES.map((_, j) => rows.reduce((s, r) => s + (r[j] ?? 0), 0) / n);
  const stds = FEATURES.map((_, j) => {
    const m = means[j] ?? 0;
    const variance = rows.reduce((s, r) => s + ((r[j] ?? 0) - m) ** 2, 0) / n;
    // a constant feature (no failed logins anywhere) is left at 0 rather than divided by 0
    return Math.sqrt(variance) || 1;
  });
  return { means, stds };
}

function standardised(model: Pick<TrainedModel, "means" | "stds">, b: Behaviour): number[] {
  return transformed(b).map((x, j) => (x - (model.means[j] ?? 0)) / (model.stds[j] ?? 1));
}

/**
 * Gradient steps: on standardised features the fit no longer moves after ~300 (the library's default 50,000 is for
 * raw ones). Each step costs ~3 ms per 1,000 rows in the library (ml-matrix allocates the transpose every step), so
 * training rows are capped too (MAX_TRAINING_ROWS in churn.service.ts).
 */
const STEPS = 300;

/**
 * Fits the model on labelled rows (`churned` true = no activity in the 30 days after the cut-off). The library's
 * gradient is a sum over the rows, so the learning rate is 1/n: a step of the mean gradient, stable on standardised
 * features.
 */
export function train(rows: readonly { behaviour: Behaviour; churned: boolean }[]): TrainedModel {
  const raw = rows.map((r) => transformed(r.behaviour));
  const { means, stds } = standardiser(raw);
  const X = new Matrix(raw.map((r) => [1, ...r.map((x, j) => (x - (means[j] ?? 0)) / (stds[j] ?? 1))]));
  const Y = Matrix.columnVector(rows.map((r) => (r.churned ? 1 : 0)));
  const regression = new LogisticRegressionTwoClasses({ numSteps: STEPS, learningRate: 1 / rows.length });
  regression.train(X, Y);
  const weights = regression.weights.to1DArray();
  return { features: FEATURES, means, stds, intercept: weights[0] ?? 0, coefficients: weights.slice(1) };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The probability of churning in the next 30 days, 0–1. */
export function scoreOf(model: TrainedModel, b: Behaviour): number {
  const x = standardised(model, b);
  return sigmoid(x.reduce((z, v, j) => z + v * (model.coefficients[j] ?? 0), model.intercept));
}

export type Band = "low" | "medium" | "high";

/** Bands by probability: at least half is high, under a fifth low (docs/churn.md). */
export function bandOf(score: number): Band {
  if (score >= 0.5) return "high";
  return score >= 0.2 ? "medium" : "low";
}

export interface Factor {
  feature: Feature;
  value: number;
  /** Its term in the logit (coefficient × standardised value): > 0 pushes towards churn. */
  contribution: number;
  description: string;
}

/** The three features pushing the score up the most, in words. */
export function factorsOf(model: TrainedModel, b: Behaviour): Factor[] {
  const x = standardised(model, b);
  return FEATURES.map((feature, j) => {
    const value = Math.round(featureValue(b, feature) * 10) / 10;
    const contribution = Math.round((model.coefficients[j] ?? 0) * (x[j] ?? 0) * 1000) / 1000;
    const direction = contribution > 0 ? "raises" : "lowers";
    return { feature, value, contribution, description: `${value} ${FEATURE_WORDS[feature]} (${direction} the risk)` };
  })
    .sort((a, b) => b.contribution - a.contribution)
    .slice(0, 3);
}

/**
 * Area under the ROC curve, rank-based (Mann–Whitney): the chance a random churner scores above a random stayer,
 * ties counting a half (average ranks). NaN without both classes.
 */
export function auc(scores: readonly number[], labels: readonly boolean[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
    const average = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]?.[1] ?? 0] = average;
    i = j + 1;
  }
  const positives = labels.filter(Boolean).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const rankSum = labels.reduce((s, label, i) => s + (label ? (ranks[i] ?? 0) : 0), 0);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * The share of churners among the k highest scores. Ties at the k-th score are broken by input order, which is
 * the user id order: arbitrary, but the same for model and baseline.
 */
export function precisionAtK(scores: readonly number[], labels: readonly boolean[], k: number): number {
  if (k <= 0) return Number.NaN;
  const top = scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k);
  return top.filter(([, i]) => labels[i]).length / top.length;
}
