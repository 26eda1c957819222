import { env } from "cloudflare:test";
import { expect } from "vitest";
import { runScheduledReports } from "../../src/modules/reports/reports.runner";
import { call, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

export interface Schedule {
  id: string;
  cron: string;
  nextRunAt: string | null;
  recipients: string[];
  [key: string]: unknown;
}

export interface Run {
  id: string;
  scheduleId: string;
  status: string;
  scheduledFor: string;
  attempts: number;
  nextAttemptAt: string | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export async function createSchedule(tenant: TestTenant, body: Record<string, unknown>) {
  const response = await call("POST", "/v1/reports/schedules", {
    token: tenant.key,
    body: {
      name: "Ops",
      report: "new-users",
      frequency: "daily",
      format: "html",
      recipients: ["ops@example.com"],
      ...body,
    },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return json<Schedule>(response);
}

export async function runsOf(tenant: TestTenant, query = ""): Promise<Run[]> {
  const response = await call("GET", `/v1/reports/runs${query}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: Run[] }>(response)).data;
}

/** The tenant's reports job at `at` (the cron's scheduled time), as the every-minute cron runs it. */
export async function runReports(tenant: TestTenant, at: string | number) {
  const time = typeof at === "number" ? at : Date.parse(at);
  await runScheduledReports(env, tenant.id, "enterprise", await tenantDatabase(tenant.id), time);
}

export async function download(tenant: TestTenant, runId: string) {
  return call("GET", `/v1/reports/runs/${runId}/download`, { token: tenant.key });
}
