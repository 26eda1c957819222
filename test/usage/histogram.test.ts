import { describe, expect, it } from "vitest";
import { bucketOf, emptyHistogram, mergeInto, quantile } from "../../src/core/usage/histogram";

function histogramOf(latencies: number[]): number[] {
  const histogram = emptyHistogram();
  for (const ms of latencies) histogram[bucketOf(ms)] = (histogram[bucketOf(ms)] ?? 0) + 1;
  return histogram;
}

describe("the latency histogram", () => {
  it("puts a latency in the first bucket whose bound holds it; the last bucket is open", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(0);
    expect(bucketOf(1.01)).toBe(1);
    expect(bucketOf(100)).toBe(6);
    expect(bucketOf(60_000)).toBe(13);
  });

  it("quantiles land in the right bucket, interpolated inside it", () => {
    // 90 fast requests (≤ 5 ms) and 10 slow ones (250–500 ms)
    const histogram = histogramOf([...new Array(90).fill(4), ...new Array(10).fill(400)]);
    const p50 = quantile(histogram, 0.5) as number;
    expect(p50).toBeGreaterThan(2);
    expect(p50).toBeLessThanOrEqual(5);
    const p95 = quantile(histogram, 0.95) as number;
    expect(p95).toBeGreaterThan(250);
    expect(p95).toBeLessThanOrEqual(500);
    expect(quantile(emptyHistogram(), 0.5)).toBeNull();
    expect(quantile(histogramOf([20_000]), 0.5)).toBe(10_000);
  });

  it("merging two histograms gives the quantiles of all their requests together", () => {
    const a = histogramOf(new Array(50).fill(3));
    const b = histogramOf(new Array(50).fill(700));
    const merged = mergeInto(emptyHistogram(), a);
    mergeInto(merged, b);
    expect(merged.reduce((n, c) => n + c, 0)).toBe(100);
    expect(quantile(merged, 0.25)).toBeLessThanOrEqual(5);
    expect(quantile(merged, 0.75)).toBeGreaterThan(500);
  });
});
