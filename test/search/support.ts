import { expect } from "vitest";
import { call, json, type TestTenant } from "../helpers/api";
import type { ApiUser } from "../users/support";

export interface Page {
  data: ApiUser[];
  nextCursor: string | null;
  total?: number;
}

export function listUsers(tenant: TestTenant, query: Record<string, string>): Promise<Response> {
  return call("GET", `/v1/users?${new URLSearchParams(query)}`, { token: tenant.key });
}

/** The usernames of the users `q` finds (one page of up to 1000), in the order given. */
export async function found(tenant: TestTenant, q: string, extra: Record<string, string> = {}): Promise<string[]> {
  const response = await listUsers(tenant, { q, limit: "1000", ...extra });
  expect(response.status).toBe(200);
  return (await json<Page>(response)).data.map((user) => user.username ?? "");
}

/** The same, sorted: for checks of which users match, not of their order. */
export async function foundSet(tenant: TestTenant, q: string, extra: Record<string, string> = {}): Promise<string[]> {
  return (await found(tenant, q, extra)).sort();
}

/** Walks every page of a list and returns the usernames in the order they came, checking `total` on each page. */
export async function walk(
  tenant: TestTenant,
  query: Record<string, string>,
  expectedTotal?: number,
): Promise<{ usernames: string[]; pages: number }> {
  const usernames: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await listUsers(tenant, cursor ? { ...query, cursor } : query);
    expect(response.status).toBe(200);
    const page: Page = await json<Page>(response);
    if (expectedTotal !== undefined) expect(page.total).toBe(expectedTotal);
    usernames.push(...page.data.map((user) => user.username ?? ""));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { usernames, pages };
}

/** Text from a value D1 returns for a BLOB column (an array of bytes), read as Latin-1 so that every byte shows. */
export function blobText(value: unknown): string {
  if (Array.isArray(value)) return String.fromCharCode(...(value as number[]));
  if (value instanceof ArrayBuffer) return String.fromCharCode(...new Uint8Array(value));
  return String(value ?? "");
}

/** Every row of the FTS5 shadow tables of `table` (`_data`, `_idx`, `_docsize`, `_config`), blobs as text. */
export async function shadowText(db: D1Database, table: "users_text" | "users_grams"): Promise<string> {
  const parts: string[] = [];
  for (const shadow of ["data", "idx", "docsize", "config"]) {
    const { results } = await db.prepare(`SELECT * FROM ${table}_${shadow}`).all<Record<string, unknown>>();
    for (const row of results) parts.push(Object.values(row).map(blobText).join("\u0000"));
  }
  return parts.join("\n");
}
