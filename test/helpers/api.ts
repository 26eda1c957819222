import { createExecutionContext, env } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
const ORIGIN = "http://uom.test";

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

/**
 * A request to the worker's fetch handler, in this isolate as in production, with its own execution context: work the
 * worker hands to waitUntil goes on after the response, as it would in production. Not `SELF.fetch`: in
 * vitest-pool-workers 0.15 each SELF.fetch costs more than the one before (GET /health: 7 ms at first, ~100 ms after
 * 500 calls, in one test file), which made the route walks take minutes.
 */
export async function fetchWorker(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return worker.fetch(new Request(input, init), env, createExecutionContext());
}

/** One HTTP call to the worker under test (real workerd, real D1). */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return fetchWorker(`${ORIGIN}${path}`, { method, headers, body });
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Asserts an RFC 9457 problem with this status and code, and returns it. */
export async function expectProblem(response: Response, status: number, code?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const problem = await json<{
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
    requestId: string;
    errors?: { field?: string; code: string; detail: string; index?: number }[];
  }>(response);
  expect(problem.status).toBe(status);
  expect(problem.requestId).toBe(response.headers.get("x-request-id"));
  if (code) expect(problem.code).toBe(code);
  return problem;
}

/** A tenant as the API returns it. */
export interface ApiTenant {
  id: string;
  name: string;
  plan: string;
  parentId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TestTenant {
  id: string;
  key: string;
  keyId: string;
}

/**
 * A tenant on the enterprise plan unless `body.plan` says otherwise: tests of a feature are not tests of the plan
 * gate (test/access/plans.test.ts is), so they get every feature and the largest quotas.
 */
export async function createTenant(body: Record<string, unknown> = {}): Promise<TestTenant> {
  const response = await call("POST", "/v1/tenants", {
    token: ADMIN_TOKEN,
    body: { name: "Test tenant", plan: "enterprise", ...body },
  });
  expect(response.status).toBe(201);
  const created = await json<{ id: string; apiKey: { id: string; secret: string } }>(response);
  return { id: created.id, key: created.apiKey.secret, keyId: created.apiKey.id };
}

let emailCounter = 0;
export function uniqueEmail(prefix = "user"): string {
  emailCounter++;
  return `${prefix}.${emailCounter}.${crypto.randomUUID().slice(0, 8)}@example.com`;
}

export async function createUser(tenant: TestTenant, body: Record<string, unknown> = {}) {
  const response = await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), ...body } });
  expect(response.status).toBe(201);
  return json<{ id: string; email: string; [key: string]: unknown }>(response);
}

/** A sub-account created with a tenant's own key (`parentId` defaults to the key's tenant; plan to the parent's). */
export async function createSubAccount(
  parent: Pick<TestTenant, "key">,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<TestTenant> {
  const response = await call("POST", "/v1/tenants", {
    token: parent.key,
    body: { name: "Sub-account", ...body },
    headers,
  });
  expect(response.status).toBe(201);
  const created = await json<{ id: string; apiKey: { id: string; secret: string } }>(response);
  return { id: created.id, key: created.apiKey.secret, keyId: created.apiKey.id };
}

/** A new API key of the tenant with these roles (entries may be scoped: `manager@ten_…`); returns its secret. */
export async function createKey(
  tenant: Pick<TestTenant, "key">,
  roles: string[],
  headers: Record<string, string> = {},
) {
  const response = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Test key", roles },
    headers,
  });
  expect(response.status).toBe(201);
  return json<{ id: string; secret: string; roles: string[] }>(response);
}
