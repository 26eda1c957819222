import { expect } from "vitest";
import { call, json, type TestTenant } from "../helpers/api";

/** A role as the API returns it. */
export interface ApiRole {
  name: string;
  description: string | null;
  permissions: string[];
  builtIn: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

let counter = 0;

/** A role name no other test uses. */
export function uniqueRoleName(prefix = "role"): string {
  return `${prefix}-${++counter}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a custom role with the tenant's admin key (or `token`); returns it with its ETag. */
export async function createRole(
  tenant: TestTenant,
  permissions: string[],
  options: { name?: string; description?: string; token?: string } = {},
): Promise<ApiRole & { etag: string }> {
  const name = options.name ?? uniqueRoleName();
  const response = await call("POST", "/v1/roles", {
    token: options.token ?? tenant.key,
    body: { name, permissions, ...(options.description ? { description: options.description } : {}) },
  });
  expect(response.status).toBe(201);
  return { ...(await json<ApiRole>(response)), etag: response.headers.get("etag") ?? "" };
}

/** An API key of the tenant holding `roles`, created with the admin key (or `token`). */
export async function keyWith(tenant: TestTenant, roles: string[], token = tenant.key): Promise<string> {
  const response = await call("POST", "/v1/api-keys", { token, body: { name: "Role test key", roles } });
  expect(response.status).toBe(201);
  return (await json<{ secret: string }>(response)).secret;
}

export async function patchRole(tenant: TestTenant, name: string, body: unknown, headers: Record<string, string> = {}) {
  return call("PATCH", `/v1/roles/${name}`, { token: tenant.key, body, headers });
}

/** Changes the tenant's plan with the platform admin token. */
export async function setPlan(tenantId: string, plan: "free" | "pro" | "enterprise", adminToken: string) {
  const response = await call("PATCH", `/v1/tenants/${tenantId}`, { token: adminToken, body: { plan } });
  expect(response.status).toBe(200);
}
