import { expect } from "vitest";
import { call, json, type TestTenant } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";

/** The public shape of a user (API.md, "Users"). */
export interface ApiUser {
  id: string;
  email: string;
  username: string | null;
  name: string | null;
  phone: string | null;
  status: "active" | "disabled" | "deleted";
  attributes: Record<string, unknown>;
  roles: string[];
  mfa: { totp: boolean };
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  lastLoginAt: string | null;
  lastActiveAt: string | null;
  loginCount: number;
}

export interface BulkItem {
  index: number;
  status: number;
  id?: string;
  error?: { type: string; title: string; status: number; detail: string; code: string; requestId: string };
}

export const USER_KEYS = [
  "attributes",
  "createdAt",
  "deletedAt",
  "email",
  "emailVerified",
  "externalId",
  "id",
  "lastActiveAt",
  "lastLoginAt",
  "loginCount",
  "mfa",
  "name",
  "phone",
  "roles",
  "status",
  "updatedAt",
  "username",
];

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Asserts the full public shape of a user: exactly the documented keys, no password or hash. */
export function expectUserShape(user: Record<string, unknown>): asserts user is ApiUser & Record<string, unknown> {
  expect(Object.keys(user).sort()).toEqual(USER_KEYS);
  expect(user.id).toMatch(/^usr_[0-9A-Za-z]+$/);
  expect(user.createdAt).toMatch(RFC3339_UTC);
  expect(user.updatedAt).toMatch(RFC3339_UTC);
  expect(user.mfa).toEqual({ totp: expect.any(Boolean) });
  expect(typeof user.emailVerified).toBe("boolean");
  expect(Array.isArray(user.roles)).toBe(true);
  expect(typeof user.attributes).toBe("object");
  const text = JSON.stringify(user).toLowerCase();
  expect(text).not.toContain("password");
  expect(text).not.toContain("pbkdf2");
  expect(text).not.toContain("scrypt");
}

/** Walks every page of GET /v1/users and returns the users in the order they came. */
export async function listAll(
  tenant: TestTenant,
  query: Record<string, string> = {},
): Promise<{ users: ApiUser[]; pages: number }> {
  const users: ApiUser[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const params = new URLSearchParams({ limit: "1000", ...query });
    if (cursor) params.set("cursor", cursor);
    const response = await call("GET", `/v1/users?${params}`, { token: tenant.key });
    expect(response.status).toBe(200);
    const page = await json<{ data: ApiUser[]; nextCursor: string | null }>(response);
    users.push(...page.data);
    cursor = page.nextCursor;
    pages++;
    expect(pages).toBeLessThan(10_000);
  } while (cursor);
  return { users, pages };
}

/** Every user of the tenant (deleted too), to compare before and after a refused request. */
export async function snapshot(tenant: TestTenant): Promise<ApiUser[]> {
  return (await listAll(tenant, { includeDeleted: "true" })).users;
}

export async function listIds(tenant: TestTenant, query: Record<string, string> = {}): Promise<string[]> {
  return (await listAll(tenant, query)).users.map((u) => u.id);
}

/** Every audit event of one resource, oldest first. */
export async function auditOf(tenant: TestTenant, resourceId: string): Promise<AuditEvent[]> {
  const response = await call("GET", `/v1/audit-events?resourceId=${encodeURIComponent(resourceId)}&limit=1000`, {
    token: tenant.key,
  });
  expect(response.status).toBe(200);
  const page = await json<{ data: AuditEvent[]; nextCursor: string | null }>(response);
  expect(page.nextCursor).toBeNull();
  return page.data.reverse();
}

export async function getUser(tenant: TestTenant, id: string, query = ""): Promise<Response> {
  return call("GET", `/v1/users/${id}${query}`, { token: tenant.key });
}

export async function readUser(tenant: TestTenant, id: string): Promise<{ user: ApiUser; etag: string }> {
  const response = await getUser(tenant, id, "?includeDeleted=true");
  expect(response.status).toBe(200);
  return { user: await json<ApiUser>(response), etag: response.headers.get("etag") as string };
}

export function patchUser(
  tenant: TestTenant,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return call("PATCH", `/v1/users/${id}`, {
    token: tenant.key,
    body,
    headers: { "content-type": "application/merge-patch+json", ...headers },
  });
}

export async function bulk(tenant: TestTenant, body: unknown, headers: Record<string, string> = {}) {
  return call("POST", "/v1/users/bulk", { token: tenant.key, body, headers });
}

export async function bulkOk(tenant: TestTenant, body: unknown): Promise<BulkItem[]> {
  const response = await bulk(tenant, body);
  expect(response.status).toBe(200);
  return (await json<{ results: BulkItem[] }>(response)).results;
}

/** Creates `n` users with one bulk request per 1000; returns their ids in creation order. */
export async function bulkCreate(tenant: TestTenant, n: number, prefix = "bulk"): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 1000) {
    const count = Math.min(1000, n - start);
    const operations = Array.from({ length: count }, (_, i) => ({
      op: "create",
      data: { email: `${prefix}.${start + i}.${crypto.randomUUID().slice(0, 8)}@example.com` },
    }));
    const results = await bulkOk(tenant, { operations });
    for (const item of results) {
      expect(item.status).toBe(201);
      ids.push(item.id as string);
    }
  }
  return ids;
}
