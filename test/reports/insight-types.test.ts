import { describe, expect, it } from "vitest";
import { call, createTenant, createUser, json } from "../helpers/api";
import { storeChurnModel } from "../helpers/churn";
import { tenantDatabase } from "../helpers/db";
import { createSchedule, download, runReports, runsOf } from "./support";

// The report types that read the insights, segments and churn modules: each run's artefact (csv, read back here)
// holds what those APIs answer.

async function csvOf(tenant: Awaited<ReturnType<typeof createTenant>>, report: string): Promise<string[][]> {
  const schedule = await createSchedule(tenant, { report, format: "csv" });
  await runReports(tenant, schedule.nextRunAt as string);
  const run = (await runsOf(tenant)).find((r) => r.scheduleId === schedule.id);
  const response = await download(tenant, run?.id as string);
  expect(response.status).toBe(200);
  // these cells hold no comma, quote or line break
  return (await response.text())
    .trim()
    .split("\r\n")
    .map((line) => line.split(","));
}

describe("summary, segments and churn reports", () => {
  it("summary: the insights summary's figures as of the run", async () => {
    const tenant = await createTenant();
    const active = await createUser(tenant);
    await createUser(tenant);
    const gone = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${gone.id}`, { token: tenant.key })).status).toBe(200);
    await call("POST", "/v1/activity", { token: tenant.key, body: { events: [{ userId: active.id, type: "a.b" }] } });
    const rows = await csvOf(tenant, "summary");
    expect(rows).toEqual([
      ["figure", "users"],
      ["users", "2"],
      ["active (30 days)", "1"],
      ["inactive (30 days)", "1"],
      ["new in the period", "3"],
      ["deleted in the period", "1"],
    ]);
  });

  it("segments: every saved segment with its live count", async () => {
    const tenant = await createTenant();
    await createUser(tenant, { name: "Gold One" });
    await createUser(tenant, { name: "Gold Two" });
    await createUser(tenant, { name: "Plain" });
    const saved = await call("POST", "/v1/segments", {
      token: tenant.key,
      body: { name: "gold", filter: 'name sw "Gold"', description: "Gold customers" },
    });
    expect(saved.status).toBe(201);
    const rows = await csvOf(tenant, "segments");
    expect(rows[0]).toEqual(["segment", "kind", "users", "description"]);
    expect(rows.slice(1)).toEqual([["gold", "saved", "2", "Gold customers"]]);
  });

  it("churn: the users at high risk, highest first, with their suggestion; no model is a failed run", async () => {
    const tenant = await createTenant();
    const [a, b, c] = [await createUser(tenant), await createUser(tenant), await createUser(tenant)];
    const untrained = await createSchedule(tenant, { report: "churn", format: "csv" });
    await runReports(tenant, untrained.nextRunAt as string);
    const [failed] = await runsOf(tenant);
    expect(failed).toMatchObject({ status: "failed" });
    expect(failed?.error).toMatch(/POST \/v1\/insights\/churn\/model\/train/);

    const db = await tenantDatabase(tenant.id);
    const at = new Date().toISOString();
    const score = (userId: string, s: number, band: "low" | "high") => ({
      userId,
      score: s,
      band,
      factors: [
        { feature: "recencyDays" as const, value: 40, contribution: 1.2, description: "40 days since last active" },
      ],
      suggestion: "send the user.re_engagement template",
      scoredAt: at,
    });
    await storeChurnModel(db, [score(a.id, 0.91, "high"), score(b.id, 0.2, "low"), score(c.id, 0.75, "high")]);
    const rows = await csvOf(tenant, "churn");
    expect(rows).toEqual([
      ["user", "score", "suggestion", "top factor"],
      [a.id, "0.91", "send the user.re_engagement template", "recencyDays"],
      [c.id, "0.75", "send the user.re_engagement template", "recencyDays"],
    ]);
    const list = await json<{ data: unknown[] }>(
      await call("GET", "/v1/insights/churn?band=high", { token: tenant.key }),
    );
    expect(list.data).toHaveLength(2);
  });
});
