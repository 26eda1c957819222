import { expect } from "vitest";
import { call, json, type TestTenant } from "../helpers/api";

/** An API key as the API returns it (with `secret` only from create and rotate). */
export interface ApiKeyBody {
  id: string;
  name: string;
  roles: string[];
  maskedSecret: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  apiVersion: string;
  secret?: string;
}

export async function createKey(tenant: TestTenant, body: Record<string, unknown> = {}) {
  const response = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Test key", roles: ["manager"], ...body },
  });
  expect(response.status).toBe(201);
  const key = await json<ApiKeyBody & { secret: string }>(response);
  return key;
}

export async function getKey(tenant: TestTenant, id: string): Promise<ApiKeyBody> {
  const response = await call("GET", `/v1/api-keys/${id}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return json<ApiKeyBody>(response);
}

export async function rotate(tenant: TestTenant, id: string, body?: Record<string, unknown>) {
  const response = await call("POST", `/v1/api-keys/${id}/rotate`, { token: tenant.key, body });
  expect(response.status).toBe(200);
  return json<ApiKeyBody & { secret: string }>(response);
}

/** The status of an authenticated call made with `secret` (GET /v1/users needs users:read: manager and admin). */
export async function statusWith(secret: string): Promise<number> {
  return (await call("GET", "/v1/users?limit=1", { token: secret })).status;
}
