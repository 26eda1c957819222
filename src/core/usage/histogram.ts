/**
 * A mergeable latency histogram: counts per fixed bucket, so isolates and hours add up by summing arrays, and
 * percentiles come from the merged counts. Bucket i holds latencies up to LATENCY_BOUNDS_MS[i] ms; the last one holds
 * everything slower. A percentile is interpolated linearly inside its bucket, so it is exact to the bucket's width.
 */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;
export const BUCKETS = LATENCY_BOUNDS_MS.length + 1;

export function emptyHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

export function bucketOf(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? BUCKETS - 1 : index;
}

/** Adds `other` into `into` (same length), and returns `into`. */
export function mergeInto(into: number[], other: readonly number[]): number[] {
  for (let i = 0; i < BUCKETS; i++) into[i] = (into[i] ?? 0) + (other[i] ?? 0);
  return into;
}

/** The q-quantile (0 < q ≤ 1) in ms, or null for an empty histogram. */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const count = histogram[i] ?? 0;
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : (LATENCY_BOUNDS_MS[i - 1] as number);
      // the open last bucket: its lower bound is all that is known
      if (i === BUCKETS - 1) return lower;
      const upper = LATENCY_BOUNDS_MS[i] as number;
      return Math.round((lower + ((rank - seen) / count) * (upper - lower)) * 100) / 100;
    }
    seen += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] as number;
}
