import { expect, it, describe as suite } from "vitest";
import type { Behaviour } from "../../src/modules/activity/behaviour";
import { describe, learnSegments, silhouette } from "../../src/modules/segments/segments.learning";
import type { CentroidValues } from "../../src/modules/segments/segments.schema";

const population: CentroidValues = {
  recencyDays: 10,
  activeDays7: 2,
  activeDays30: 8,
  events30: 20,
  logins30: 4,
  tenureDays: 150,
  breadth30: 2,
};

function behaviour(userId: string, overrides: Partial<Behaviour> = {}): Behaviour {
  return {
    userId,
    tenureDays: 100,
    recencyDays: 1,
    activeDays7: 5,
    activeDays30: 20,
    events30: 40,
    logins30: 5,
    failedLogins30: 0,
    breadth30: 2,
    ...overrides,
  };
}

suite("the silhouette", () => {
  it("matches a hand computation: [0, 1] and [10, 11] → (9.5/10.5 + 8.5/9.5) / 2", () => {
    const score = silhouette([[0], [1], [10], [11]], [0, 0, 1, 1], 2);
    expect(score).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 10);
  });

  it("is low when the labels cut across the groups", () => {
    expect(silhouette([[0], [10], [1], [11]], [0, 0, 1, 1], 2)).toBeLessThan(0);
  });
});

suite("cluster descriptions", () => {
  it("say at risk when the last week falls well below the month's pace, and casual for occasional use", () => {
    const atRisk = describe(
      { ...population, recencyDays: 8, activeDays7: 0, activeDays30: 10, tenureDays: 200 },
      population,
      { recencyDays: 0.3, activeDays30: 0.1, events30: 0, logins30: 0, tenureDays: 0.2, breadth30: 0 },
      12,
    );
    expect(atRisk.slug).toBe("at-risk");
    expect(atRisk.description).toMatch(/^At risk/);
    expect(atRisk.description).toContain("12 users");
    const casual = describe(
      { ...population, recencyDays: 9, activeDays7: 1, activeDays30: 2, tenureDays: 160 },
      population,
      { recencyDays: 0, activeDays30: -0.2, events30: -0.1, logins30: -0.1, tenureDays: 0, breadth30: -0.1 },
      30,
    );
    expect(casual.slug).toBe("casual");
  });

  it("say new and quiet for recent sign-ups seldom active", () => {
    const quiet = describe(
      { ...population, recencyDays: 5, activeDays7: 0, activeDays30: 1, tenureDays: 10 },
      population,
      { recencyDays: 0.1, activeDays30: -0.8, events30: -0.8, logins30: -0.8, tenureDays: -1.5, breadth30: -0.5 },
      20,
    );
    expect(quiet.slug).toBe("new-and-quiet");
  });
});

suite("learnSegments", () => {
  it("finds no segments among users who all behave alike", () => {
    expect(
      learnSegments(
        Array.from({ length: 60 }, (_, i) => behaviour(`u${i}`)),
        1,
      ),
    ).toBeNull();
  });

  it("covers every user, whatever their order", () => {
    const rows = Array.from({ length: 80 }, (_, i) =>
      i % 2
        ? behaviour(`u${i}`, { recencyDays: 60 + (i % 7), activeDays30: 0, activeDays7: 0, events30: 0 })
        : behaviour(`u${i}`, { events30: 30 + i }),
    );
    const forward = learnSegments(rows, 7);
    const backward = learnSegments([...rows].reverse(), 7);
    expect(forward?.clusters.flatMap((c) => c.memberIds).sort()).toEqual(rows.map((r) => r.userId).sort());
    expect(backward).toEqual(forward);
  });
});
