import { beforeAll, describe, expect, it } from "vitest";
import { generateDemo } from "../../scripts/demo-data.mjs";
import { call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import { type SeededUser, seedDemo } from "./seed";

interface Model {
  trainedAt: string;
  cutoffs: { training: string[]; holdout: string[] };
  trainingRows: number;
  holdoutRows: number;
  features: string[];
  auc: number;
  precisionAtK: number;
  k: number;
  baseline: { auc: number; precisionAtK: number };
  coefficients: Record<string, number>;
}

interface Risk {
  userId: string;
  score: number;
  band: "low" | "medium" | "high";
  factors: { feature: string; value: number; contribution: number; description: string }[];
  suggestion: string;
  scoredAt: string;
  modelTrainedAt: string;
}

const DAY_MS = 86_400_000;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

let tenant: TestTenant;
let users: SeededUser[];
let model: Model;

// One demo tenant for the file: seeding it takes a few seconds, and these tests only read it after training
beforeAll(async () => {
  tenant = await createTenant();
  users = await seedDemo(tenant, { users: 500, days: 180 });
  const response = await call("POST", "/v1/insights/churn/model/train", { token: tenant.key });
  expect(response.status).toBe(200);
  model = await json<Model>(response);
}, 180_000);

describe("the model on the demo tenant", () => {
  it("beats the recency-only baseline's AUC on the time-based holdout", async () => {
    expect(model.holdoutRows).toBeGreaterThan(100);
    expect(model.trainingRows).toBeGreaterThan(model.holdoutRows);
    expect(model.auc).toBeGreaterThan(model.baseline.auc);
    expect(model.auc).toBeGreaterThan(0.7);
    expect(model.k).toBe(Math.max(1, Math.round(model.holdoutRows / 10)));
    expect(model.precisionAtK).toBeGreaterThanOrEqual(0);
    expect(model.precisionAtK).toBeLessThanOrEqual(1);
  });

  it("never trains on the holdout: every training label window ends before the first holdout cut-off", () => {
    const firstHoldout = Date.parse(model.cutoffs.holdout[0] as string);
    expect(model.cutoffs.holdout).toHaveLength(2);
    expect(model.cutoffs.training.length).toBeGreaterThan(3);
    for (const cutoff of model.cutoffs.training)
      expect(Date.parse(cutoff) + 30 * DAY_MS).toBeLessThanOrEqual(firstHoldout);
    // the latest holdout cut-off's label window has ended
    expect(Date.parse(model.cutoffs.holdout[1] as string) + 30 * DAY_MS).toBeLessThanOrEqual(Date.now());
  });

  it("GET /v1/insights/churn/model reports the stored model, with a coefficient per feature", async () => {
    const response = await call("GET", "/v1/insights/churn/model", { token: tenant.key });
    expect(response.status).toBe(200);
    const stored = await json<Model>(response);
    expect(stored).toMatchObject(model);
    expect(Object.keys(stored.coefficients).sort()).toEqual([...model.features, "intercept"].sort());
    // the most telling feature pushes the right way: the longer since last active, the higher the risk
    expect(stored.coefficients.recencyDays).toBeGreaterThan(0);
  });

  it("scores rank the high-hazard cohort above the loyal one (users still customers)", async () => {
    const byId = new Map<string, Risk>();
    let cursor: string | null = null;
    do {
      const query: string = `?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const response = await call("GET", `/v1/insights/churn${query}`, { token: tenant.key });
      expect(response.status).toBe(200);
      const page = await json<{ data: Risk[]; nextCursor: string | null }>(response);
      for (const risk of page.data) byId.set(risk.userId, risk);
      cursor = page.nextCursor;
    } while (cursor);
    expect(byId.size).toBe(users.length);
    const staying = (cohort: string) =>
      users.filter((u) => u.cohort === cohort && u.leftDaysAgo === null).map((u) => byId.get(u.id)?.score as number);
    expect(mean(staying("trial"))).toBeGreaterThan(mean(staying("loyal")));
    // and users who left score above users still there
    const left = users
      .filter((u) => u.leftDaysAgo !== null && u.leftDaysAgo > 30)
      .map((u) => byId.get(u.id)?.score as number);
    expect(mean(left)).toBeGreaterThan(mean(staying("loyal")));
  });

  it("lists highest first, pages with a cursor without gaps or repeats, and filters by band", async () => {
    const first = await json<{ data: Risk[]; nextCursor: string }>(
      await call("GET", "/v1/insights/churn?limit=50", { token: tenant.key }),
    );
    expect(first.data).toHaveLength(50);
    const second = await json<{ data: Risk[] }>(
      await call("GET", `/v1/insights/churn?limit=50&cursor=${encodeURIComponent(first.nextCursor)}`, {
        token: tenant.key,
      }),
    );
    const scores = [...first.data, ...second.data].map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(new Set([...first.data, ...second.data].map((r) => r.userId)).size).toBe(100);

    const high = await json<{ data: Risk[] }>(
      await call("GET", "/v1/insights/churn?band=high&limit=1000", { token: tenant.key }),
    );
    expect(high.data.length).toBeGreaterThan(0);
    expect(high.data.every((r) => r.band === "high" && r.score >= 0.5)).toBe(true);
    const low = await json<{ data: Risk[] }>(
      await call("GET", "/v1/insights/churn?band=low&limit=1000", { token: tenant.key }),
    );
    expect(low.data.every((r) => r.band === "low" && r.score < 0.2 && r.suggestion === "none")).toBe(true);
  });

  it("GET /v1/users/{id}/churn-risk: score, band, three factors in words, a suggestion", async () => {
    const gone = users.find((u) => u.leftDaysAgo !== null && u.leftDaysAgo > 60) as SeededUser;
    const response = await call("GET", `/v1/users/${gone.id}/churn-risk`, { token: tenant.key });
    expect(response.status).toBe(200);
    const risk = await json<Risk>(response);
    expect(risk).toMatchObject({ userId: gone.id, band: "high", modelTrainedAt: model.trainedAt });
    expect(risk.score).toBeGreaterThanOrEqual(0.5);
    expect(risk.score).toBeLessThanOrEqual(1);
    expect(risk.factors).toHaveLength(3);
    const contributions = risk.factors.map((f) => f.contribution);
    expect(contributions).toEqual([...contributions].sort((a, b) => b - a));
    expect(risk.factors[0]?.description).toMatch(/\d/);
    expect(risk.factors.map((f) => f.feature)).toContain("recencyDays");
    expect(risk.suggestion).not.toBe("none");
  });

  it("a manager key reads the model and the scores but cannot train; a basic key reads nothing", async () => {
    const manager = await createKey(tenant, ["manager"]);
    expect((await call("GET", "/v1/insights/churn/model", { token: manager.secret })).status).toBe(200);
    expect((await call("GET", "/v1/insights/churn", { token: manager.secret })).status).toBe(200);
    await expectProblem(await call("POST", "/v1/insights/churn/model/train", { token: manager.secret }), 403);
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/insights/churn/model", { token: basic.secret }), 403);
    await expectProblem(await call("GET", `/v1/users/${users[0]?.id}/churn-risk`, { token: basic.secret }), 403);
  });

  it("another tenant sees none of this tenant's scores", async () => {
    const other = await createTenant();
    await expectProblem(await call("GET", `/v1/users/${users[0]?.id}/churn-risk`, { token: other.key }), 404);
    await expectProblem(await call("GET", "/v1/insights/churn", { token: other.key }), 404, "CHURN_MODEL_NOT_TRAINED");
  });

  it("the training wrote its audit row; a deleted user leaves the list", async () => {
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "audit_events", "action = ?", "churn_model.trained")).toBe(1);
    const victim = users.find((u) => u.leftDaysAgo === null) as SeededUser;
    expect((await call("DELETE", `/v1/users/${victim.id}`, { token: tenant.key })).status).toBe(200);
    const all = await json<{ data: Risk[] }>(await call("GET", "/v1/insights/churn?limit=1000", { token: tenant.key }));
    expect(all.data.map((r) => r.userId)).not.toContain(victim.id);
    await expectProblem(await call("GET", `/v1/users/${victim.id}/churn-risk`, { token: tenant.key }), 404);
  });
});

describe("the demo generator", () => {
  it("is seeded: the same options give the same users and events", () => {
    const a = generateDemo({ users: 50, days: 60, now: Date.UTC(2026, 0, 1) });
    const b = generateDemo({ users: 50, days: 60, now: Date.UTC(2026, 0, 1) });
    expect(a).toEqual(b);
    expect(generateDemo({ users: 50, days: 60, seed: 7, now: Date.UTC(2026, 0, 1) })).not.toEqual(a);
    // the ground truth: the trial cohort leaves faster than the loyal one
    const big = generateDemo({ users: 2000, days: 180, now: Date.UTC(2026, 0, 1) });
    const share = (c: "trial" | "loyal") => big.truth[c].left / big.truth[c].users;
    expect(share("trial")).toBeGreaterThan(share("loyal") * 2);
  });
});
