import { expect } from "vitest";
import { call, json, type TestTenant } from "../helpers/api";

export interface ApiField {
  id: string;
  name: string;
  type: string;
  required: boolean;
  unique: boolean;
  pii: boolean;
  filterable: boolean;
  default: unknown;
  previousName: string | null;
  schemaVersion: number;
  pendingChanges: { kind: string; startedAt: string }[];
  [key: string]: unknown;
}

export async function defineField(tenant: TestTenant, body: Record<string, unknown>): Promise<ApiField> {
  const response = await call("POST", "/v1/schema/fields", { token: tenant.key, body });
  if (response.status !== 201)
    throw new Error(`define ${JSON.stringify(body)}: ${response.status} ${await response.text()}`);
  return json<ApiField>(response);
}

export async function patchField(tenant: TestTenant, name: string, body: Record<string, unknown>, query = "") {
  return call("PATCH", `/v1/schema/fields/${name}${query}`, { token: tenant.key, body });
}

export async function readField(tenant: TestTenant, name: string): Promise<ApiField> {
  const response = await call("GET", `/v1/schema/fields/${name}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return json<ApiField>(response);
}

/** Waits until the background work of every field is done (the request's waitUntil, else the cron, runs it). */
export async function settled(tenant: TestTenant): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await call("GET", "/v1/schema/fields", { token: tenant.key });
    const { data } = await json<{ data: ApiField[] }>(response);
    if (data.every((field) => field.pendingChanges.length === 0)) {
      const jobs = await call("GET", "/v1/schema/fields", { token: tenant.key });
      expect(jobs.status).toBe(200);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("schema jobs did not finish");
}

export async function attributesOf(tenant: TestTenant, id: string): Promise<Record<string, unknown>> {
  const response = await call("GET", `/v1/users/${id}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ attributes: Record<string, unknown> }>(response)).attributes;
}
