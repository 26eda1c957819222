import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Behaviour } from "../../src/modules/activity/behaviour";
import { retrainChurnModel } from "../../src/modules/churn/churn.jobs";
import { auc, precisionAtK } from "../../src/modules/churn/churn.model";
import { cutoffsFor } from "../../src/modules/churn/churn.service";
import { suggestionFor } from "../../src/modules/churn/churn.suggestions";
import { call, createTenant, createUser, expectProblem, json } from "../helpers/api";
import { bindingOf, count, runCron, tenantDatabase } from "../helpers/db";
import { seedDemo } from "./seed";

const DAY_MS = 86_400_000;

describe("before any training", () => {
  it("the model, the list and a user's risk are 404 with a clear code; training without history is 409 and writes nothing", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    await expectProblem(
      await call("GET", "/v1/insights/churn/model", { token: tenant.key }),
      404,
      "CHURN_MODEL_NOT_TRAINED",
    );
    await expectProblem(await call("GET", "/v1/insights/churn", { token: tenant.key }), 404, "CHURN_MODEL_NOT_TRAINED");
    await expectProblem(
      await call("GET", `/v1/users/${user.id}/churn-risk`, { token: tenant.key }),
      404,
      "CHURN_MODEL_NOT_TRAINED",
    );
    // a day of activity labels nobody: no cut-off has 30 days after it yet
    expect(
      (
        await call("POST", "/v1/activity", {
          token: tenant.key,
          body: { events: [{ userId: user.id, type: "page.viewed" }] },
        })
      ).status,
    ).toBe(200);
    await expectProblem(
      await call("POST", "/v1/insights/churn/model/train", { token: tenant.key }),
      409,
      "CHURN_NOT_ENOUGH_HISTORY",
    );
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "churn_model")).toBe(0);
    expect(await count(db, "churn_scores")).toBe(0);
    expect(await count(db, "audit_events", "action = ?", "churn_model.trained")).toBe(0);
  });

  it("a free tenant gets 403 FEATURE_NOT_IN_PLAN", async () => {
    const free = await createTenant({ plan: "free" });
    await expectProblem(await call("GET", "/v1/insights/churn/model", { token: free.key }), 403, "FEATURE_NOT_IN_PLAN");
    await expectProblem(
      await call("POST", "/v1/insights/churn/model/train", { token: free.key }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
  });

  it("bad queries are 400 problems: an unknown band, an unknown parameter, a limit out of range", async () => {
    const tenant = await createTenant();
    await expectProblem(await call("GET", "/v1/insights/churn?band=extreme", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/insights/churn?sort=score", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/insights/churn?limit=0", { token: tenant.key }), 400);
  });
});

describe("the daily cron", () => {
  it("trains the model of a tenant with history and scores its users; a user created since has no score yet", async () => {
    const tenant = await createTenant({ plan: "pro" });
    const users = await seedDemo(tenant, { users: 150, days: 150, seed: 11 });
    const db = await tenantDatabase(tenant.id);
    // the job trains only tenants whose plan has `churn`: the same history on a free plan is left alone
    await retrainChurnModel(env, { binding: await bindingOf(tenant.id), plan: "free" });
    expect(await count(db, "churn_model")).toBe(0);
    await runCron("17 3 * * *");
    const model = await call("GET", "/v1/insights/churn/model", { token: tenant.key });
    expect(model.status).toBe(200);
    const report = await json<{ trainingRows: number; holdoutRows: number; auc: number }>(model);
    expect(report.trainingRows).toBeGreaterThan(0);
    expect(report.holdoutRows).toBeGreaterThan(0);
    expect(await count(db, "churn_scores")).toBe(users.length);
    // the cron is the system, not an administrator: no audit row
    expect(await count(db, "audit_events", "action = ?", "churn_model.trained")).toBe(0);
    const late = await createUser(tenant);
    await expectProblem(
      await call("GET", `/v1/users/${late.id}/churn-risk`, { token: tenant.key }),
      404,
      "CHURN_NOT_SCORED",
    );
    const cursor = await json<{ nextCursor: string }>(
      await call("GET", "/v1/insights/churn?limit=1", { token: tenant.key }),
    );
    // a cursor of another list is refused
    const foreign = await json<{ nextCursor: string }>(
      await call("GET", `/v1/users/${users[0]?.id}/activity?limit=1`, { token: tenant.key }),
    );
    expect(cursor.nextCursor).toBeTruthy();
    await expectProblem(
      await call("GET", `/v1/insights/churn?cursor=${encodeURIComponent(foreign.nextCursor)}`, { token: tenant.key }),
      400,
      "INVALID_CURSOR",
    );
  }, 120_000);
});

describe("cut-offs, metrics and suggestions", () => {
  it("cut-offs are UTC midnights a week apart; training label windows end before the holdout", () => {
    const now = Date.UTC(2026, 10, 28, 4, 0);
    const { training, holdout } = cutoffsFor(now, now - 180 * DAY_MS);
    expect(holdout.map((c) => new Date(c).toISOString())).toEqual([
      "2026-10-22T00:00:00.000Z",
      "2026-10-29T00:00:00.000Z",
    ]);
    expect(training.every((c) => c % DAY_MS === 0 && c + 30 * DAY_MS <= (holdout[0] as number))).toBe(true);
    expect(training.at(-1)).toBe((holdout[0] as number) - 35 * DAY_MS);
    expect(cutoffsFor(now, now - 20 * DAY_MS)).toEqual({ training: [], holdout: [] });
  });

  it("AUC counts ties as a half; precision at k is the share of churners in the top k", () => {
    expect(auc([0.9, 0.8, 0.2, 0.1], [true, true, false, false])).toBe(1);
    expect(auc([0.1, 0.2, 0.8, 0.9], [true, true, false, false])).toBe(0);
    expect(auc([5, 5, 5, 5], [true, false, true, false])).toBe(0.5);
    expect(auc([3, 2, 2, 1], [true, true, false, false])).toBe(0.875);
    expect(Number.isNaN(auc([1, 2], [true, true]))).toBe(true);
    expect(precisionAtK([0.9, 0.8, 0.7, 0.1], [true, false, true, false], 2)).toBe(0.5);
    expect(precisionAtK([0.9, 0.8, 0.7, 0.1], [true, false, true, false], 3)).toBeCloseTo(2 / 3);
  });

  it("suggestions: none when low, sign-in problems first, onboarding for new users, the activation template for the never active", () => {
    const b = (over: Partial<Behaviour>): Behaviour => ({
      userId: "usr_x",
      tenureDays: 90,
      recencyDays: 12,
      activeDays7: 0,
      activeDays30: 3,
      events30: 4,
      logins30: 0,
      failedLogins30: 0,
      breadth30: 1,
      ...over,
    });
    const none = new Set<string>();
    expect(suggestionFor(b({}), "low", none)).toBe("none");
    expect(suggestionFor(b({ failedLogins30: 5 }), "high", none)).toBe("check sign-in problems");
    expect(suggestionFor(b({ tenureDays: 10, recencyDays: 4 }), "medium", none)).toBe("offer onboarding help");
    expect(suggestionFor(b({}), "high", none)).toBe("send the user.re_engagement template");
    const never = b({ tenureDays: 20, recencyDays: 20, activeDays30: 0, events30: 0 });
    expect(suggestionFor(never, "high", new Set(["user.activation_reminder"]))).toBe(
      "send the user.activation_reminder template",
    );
    expect(suggestionFor(never, "high", none)).toBe("offer onboarding help");
  });
});
