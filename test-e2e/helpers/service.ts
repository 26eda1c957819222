// Calls to the worker the global setup started (real HTTP through wrangler's local server).
import { expect, inject } from "vitest";

export function service(): { url: string; adminToken: string } {
  return inject("service");
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return fetch(new URL(path, service().url), { method, headers, body, redirect: "manual" });
}

/** A call that must answer `status`; returns the parsed JSON body (null when empty). */
export async function expectCall<T = Record<string, unknown>>(
  method: string,
  path: string,
  status: number,
  options: CallOptions = {},
): Promise<T> {
  const response = await call(method, path, options);
  const text = await response.text();
  expect(response.status, `${method} ${path}: ${text.slice(0, 500)}`).toBe(status);
  return (text ? JSON.parse(text) : null) as T;
}

export interface E2eTenant {
  id: string;
  key: string;
  keyId: string;
}

/** A tenant created with the admin token (plan enterprise unless given), and its first API key (admin role). */
export async function createTenant(body: Record<string, unknown> = {}): Promise<E2eTenant> {
  const created = await expectCall<{ id: string; apiKey: { id: string; secret: string } }>("POST", "/v1/tenants", 201, {
    token: service().adminToken,
    body: { name: "E2E tenant", plan: "enterprise", ...body },
  });
  return { id: created.id, key: created.apiKey.secret, keyId: created.apiKey.id };
}

export function uniqueEmail(prefix = "user"): string {
  return `${prefix}.${crypto.randomUUID().slice(0, 12)}@example.com`;
}

/**
 * Runs the worker's cron handler now (wrangler's local scheduled endpoint); local development never fires crons by
 * itself. `cron` is one of wrangler.toml's triggers.
 */
export async function runCron(cron = "* * * * *"): Promise<void> {
  const response = await fetch(new URL(`/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}`, service().url));
  expect(response.status).toBe(200);
  await response.text();
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
