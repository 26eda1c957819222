import { kmeans } from "ml-kmeans";
import type { Behaviour } from "../activity/behaviour";
import { type CentroidValues, FEATURE_NAMES, LEARNED_PREFIX } from "./segments.schema";

/**
 * Learned segments (docs/segments.md): k-means (ml-kmeans) over users' behaviour, log-scaled and standardised, with
 * k in 2..6 chosen by the mean silhouette. Pure and deterministic: the same behaviour and seed give the same segments.
 */

export const K_RANGE = [2, 6] as const;
/** k-means is fitted on at most this many users; every user is then assigned to the nearest centroid. */
export const FIT_SAMPLE = 5_000;
/** The silhouette is O(n²): computed on at most this many of the fitted users. */
export const SILHOUETTE_SAMPLE = 2_000;

/**
 * What the clusters are made of: recency, frequency (active days, events, logins), tenure and breadth. The 7-day
 * activity only serves to describe a cluster (activity falling), not to form it.
 */
const CLUSTERED: readonly (keyof Behaviour)[] = [
  "recencyDays",
  "activeDays30",
  "events30",
  "logins30",
  "tenureDays",
  "breadth30",
];

export interface LearnedCluster {
  name: string;
  description: string;
  memberIds: string[];
  centroid: CentroidValues;
  /** The mean silhouette of the cluster's sampled members. */
  silhouette: number;
}

export interface Clustering {
  k: number;
  silhouette: number;
  clusters: LearnedCluster[];
}

/** log1p then z-score per feature (a feature with no spread becomes 0), so counts and days weigh alike. */
export function standardise(rows: readonly Behaviour[]): number[][] {
  const logged = rows.map((row) => CLUSTERED.map((feature) => Math.log1p(Math.max(0, Number(row[feature])))));
  const means = CLUSTERED.map((_, j) => mean(logged.map((v) => v[j] as number)));
  const spreads = CLUSTERED.map((_, j) => {
    const m = means[j] as number;
    return Math.sqrt(mean(logged.map((v) => ((v[j] as number) - m) ** 2)));
  });
  return logged.map((v) =>
    v.map((x, j) => ((spreads[j] as number) > 1e-9 ? (x - (means[j] as number)) / (spreads[j] as number) : 0)),
  );
}

/** Every `step`-th user of the list sorted by id: a sample that is the same every time for the same users. */
function evenSample(count: number, size: number): number[] {
  if (count <= size) return Array.from({ length: count }, (_, i) => i);
  const step = count / size;
  return Array.from({ length: size }, (_, i) => Math.floor(i * step));
}

function squaredDistance(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  return sum;
}

function nearest(point: readonly number[], centroids: readonly number[][]): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  centroids.forEach((centroid, i) => {
    const d = squaredDistance(point, centroid);
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  });
  return best;
}

/**
 * Each point's silhouette (Rousseeuw 1987): (b − a) / max(a, b), with a its mean distance to its own cluster and b to
 * the nearest other one; 0 for a point alone in its cluster.
 */
export function silhouettes(points: readonly number[][], labels: readonly number[], k: number): number[] {
  const sizes = new Array<number>(k).fill(0);
  for (const label of labels) sizes[label] = (sizes[label] as number) + 1;
  return points.map((point, i) => {
    const sums = new Array<number>(k).fill(0);
    for (let j = 0; j < points.length; j++) {
      if (i !== j) {
        const label = labels[j] as number;
        sums[label] = (sums[label] as number) + Math.sqrt(squaredDistance(point, points[j] as number[]));
      }
    }
    const own = labels[i] as number;
    if ((sizes[own] as number) <= 1) return 0;
    const a = (sums[own] as number) / ((sizes[own] as number) - 1);
    let b = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      if (c !== own && (sizes[c] as number) > 0) b = Math.min(b, (sums[c] as number) / (sizes[c] as number));
    }
    const spread = Math.max(a, b);
    return spread > 0 && Number.isFinite(b) ? (b - a) / spread : 0;
  });
}

/** The mean silhouette of a labelling: how well separated its clusters are, from −1 to 1. */
export function silhouette(points: readonly number[][], labels: readonly number[], k: number): number {
  return mean(silhouettes(points, labels, k));
}

/** The best k by silhouette (the smaller k on a tie), fitted on a sample, then every user assigned. */
export function learnSegments(rows: readonly Behaviour[], seed: number): Clustering | null {
  const sorted = [...rows].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  const points = standardise(sorted);
  const fitted = evenSample(points.length, FIT_SAMPLE).map((i) => points[i] as number[]);
  const scored = evenSample(fitted.length, SILHOUETTE_SAMPLE).map((i) => fitted[i] as number[]);
  let best: { k: number; score: number; centroids: number[][] } | null = null;
  for (let k = K_RANGE[0]; k <= Math.min(K_RANGE[1], fitted.length - 1); k++) {
    const result = kmeans(fitted, k, { initialization: "kmeans++", seed: seed + k, maxIterations: 100 });
    const labels = scored.map((point) => nearest(point, result.centroids));
    // identical users leave some centroids with no one: that is fewer than k clusters, not a k-clustering
    if (new Set(fitted.map((point) => nearest(point, result.centroids))).size < k) continue;
    const score = silhouette(scored, labels, k);
    if (best === null || score > best.score + 1e-9) best = { k, score, centroids: result.centroids };
  }
  if (best === null) return null;
  // each cluster's own silhouette: the mean over its sampled members
  const scoredLabels = scored.map((point) => nearest(point, best.centroids));
  const values = silhouettes(scored, scoredLabels, best.k);
  const ownSilhouette = (c: number) => mean(values.filter((_, i) => scoredLabels[i] === c));
  const members: number[][] = best.centroids.map(() => []);
  const centroids = best.centroids;
  points.forEach((point, i) => {
    members[nearest(point, centroids)]?.push(i);
  });
  const population = centroidOf(sorted);
  const named = new Set<string>();
  const clusters = members.map((indices, c) => {
    const group = indices.map((i) => sorted[i] as Behaviour);
    const centroid = centroidOf(group);
    const { slug, description } = describe(centroid, population, zOf(indices, points), group.length);
    let name = `${LEARNED_PREFIX}${slug}`;
    for (let n = 2; named.has(name); n++) name = `${LEARNED_PREFIX}${slug}-${n}`;
    named.add(name);
    return {
      name,
      description,
      memberIds: group.map((b) => b.userId),
      centroid,
      silhouette: round(ownSilhouette(c), 4),
    };
  });
  return { k: best.k, silhouette: round(best.score, 4), clusters };
}

/** The members' mean of each standardised clustered feature (0 is the population's mean). */
function zOf(indices: readonly number[], points: readonly number[][]): Record<string, number> {
  return Object.fromEntries(
    CLUSTERED.map((feature, j) => [feature, mean(indices.map((i) => (points[i] as number[])[j] as number))]),
  );
}

function centroidOf(group: readonly Behaviour[]): CentroidValues {
  return Object.fromEntries(
    FEATURE_NAMES.map((feature) => [feature, round(mean(group.map((b) => Number(b[feature]))), 2)]),
  ) as CentroidValues;
}

/**
 * A cluster in words, from its centroid against the population's (z: the standardised means). The first rule that
 * fits names it: dormant (long since active, little activity), new (short tenure; active or quiet by how many of
 * their days they were active), power users (high frequency and breadth), at risk (was active, recency rising or the
 * last week well below the month's pace), active, casual.
 */
export function describe(
  centroid: CentroidValues,
  population: CentroidValues,
  z: Record<string, number>,
  size: number,
): { slug: string; description: string } {
  const frequency = ((z.activeDays30 ?? 0) + (z.events30 ?? 0) + (z.logins30 ?? 0)) / 3;
  const recency = z.recencyDays ?? 0;
  const tenure = z.tenureDays ?? 0;
  const breadth = z.breadth30 ?? 0;
  const days = (n: number) => `${Math.round(n)} day${Math.round(n) === 1 ? "" : "s"}`;
  const pace = centroid.activeDays30 / Math.max(1, Math.min(30, centroid.tenureDays));
  const falling = centroid.activeDays30 > 0 && centroid.activeDays7 * (30 / 7) < 0.5 * centroid.activeDays30;
  const users = `${size} user${size === 1 ? "" : "s"}`;
  const usual = `population: ${days(population.recencyDays)} since active, ${round(population.activeDays30, 1)} active days a month`;
  const facts = `last active ${days(centroid.recencyDays)} ago on average, ${round(centroid.activeDays30, 1)} active days in the last 30, signed up ${days(centroid.tenureDays)} ago`;
  const say = (slug: string, headline: string) => ({
    slug,
    description: `${headline}: ${facts} (${users}; ${usual}).`,
  });
  if (recency > 0.5 && frequency < -0.25) return say("dormant", "Dormant — no recent activity");
  if (tenure < -0.5) {
    return pace >= 0.3
      ? say("new-and-active", "New and active — recently signed up and active on most of their days")
      : say("new-and-quiet", "New and quiet — recently signed up, seldom active since");
  }
  if (frequency > 0.5 && breadth >= 0) return say("power-users", "Power users — the most frequent and broadest use");
  if (centroid.activeDays30 > 0 && (falling || recency > 0.25)) {
    return say("at-risk", "At risk — were active, but activity is falling and recency rising");
  }
  if (frequency > 0) return say("active", "Active — regular use");
  return say("casual", "Casual — occasional use");
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
