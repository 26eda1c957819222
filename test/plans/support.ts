import { expect } from "vitest";
import { ADMIN_TOKEN, call, json, type TestTenant } from "../helpers/api";

export interface Quota {
  limit: number | null;
  used?: number;
  period?: string;
}

export interface PlanOverview {
  plan: string;
  features: { name: string; description: string; included: boolean; requiredPlan: string }[];
  quotas: Record<"maxUsers" | "requestsPerMonth" | "subAccounts" | "webhookEndpoints" | "auditRetentionDays", Quota>;
  rateLimits: { default: { burst: number; ratePerSecond: number }; max: { burst: number; ratePerSecond: number } };
  pendingChangeRequest: ChangeRequest | null;
}

export interface ChangeRequest {
  id: string;
  tenantId: string;
  fromPlan: string;
  toPlan: string;
  note: string | null;
  status: "pending" | "applied" | "cancelled";
  createdAt: string;
  resolvedAt: string | null;
}

export async function planOf(tenant: TestTenant): Promise<PlanOverview> {
  const response = await call("GET", "/v1/plan", { token: tenant.key });
  expect(response.status).toBe(200);
  return json<PlanOverview>(response);
}

/** The platform admin changes the tenant's plan, as PATCH /v1/tenants/{id} does it. */
export async function setPlan(tenant: TestTenant, plan: string): Promise<void> {
  const response = await call("PATCH", `/v1/tenants/${tenant.id}`, { token: ADMIN_TOKEN, body: { plan } });
  expect(response.status).toBe(200);
}

/** POST /v1/users/bulk with `count` creates; returns the per-item results. */
export async function bulkCreate(tenant: TestTenant, count: number, prefix: string) {
  const operations = Array.from({ length: count }, (_, i) => ({
    op: "create",
    data: { email: `${prefix}.${i}.${crypto.randomUUID().slice(0, 6)}@example.com` },
  }));
  const response = await call("POST", "/v1/users/bulk", { token: tenant.key, body: { operations } });
  expect(response.status).toBe(200);
  return (
    await json<{ results: { index: number; status: number; id?: string; error?: Record<string, unknown> }[] }>(response)
  ).results;
}
