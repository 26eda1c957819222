import { env, runInDurableObject } from "cloudflare:test";
import { generate } from "otplib";
import { expect } from "vitest";
import type { ServiceContext } from "../../src/core/context";
import { authenticateUser, type LoginAttempt, type LoginResult } from "../../src/modules/login/login.service";
import { call, createUser, fetchWorker, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { bindingOf, tenantDatabase } from "../helpers/db";

/** A service context for a tenant as the token endpoint builds one: its database, an OAuth client as the actor. */
export async function loginContext(tenant: TestTenant, ip: string | null = "203.0.113.7"): Promise<ServiceContext> {
  return {
    env,
    db: await tenantDatabase(tenant.id),
    scope: tenant.id,
    tenant: { id: tenant.id, plan: "free", parentId: null, databaseBinding: await bindingOf(tenant.id) },
    actor: { type: "client", id: "cli_login_tests" },
    request: { requestId: `req_${crypto.randomUUID()}`, ip, userAgent: "vitest" },
    waitUntil: (promise) => void promise.catch(() => undefined),
  };
}

/** Logs in as the token endpoint does: the result's statements run in one batch. */
export async function login(tenant: TestTenant, attempt: Partial<LoginAttempt> & { identifier: string }) {
  const ip = attempt.ip === undefined ? "203.0.113.7" : attempt.ip;
  const ctx = await loginContext(tenant, ip);
  const result = await authenticateUser(ctx, { password: "", ...attempt, ip });
  if (result.statements.length > 0) await ctx.db.batch(result.statements);
  return result;
}

export const PASSWORD = "correct horse battery staple";

export async function createLoginUser(tenant: TestTenant, body: Record<string, unknown> = {}) {
  const email = uniqueEmail("login");
  const user = await createUser(tenant, { email, password: PASSWORD, ...body });
  return { ...user, email };
}

export async function enrolTotp(tenant: TestTenant, userId: string) {
  const started = await call("POST", `/v1/users/${userId}/mfa/totp`, { token: tenant.key });
  expect(started.status).toBe(201);
  const { secret } = await json<{ secret: string }>(started);
  const verified = await call("POST", `/v1/users/${userId}/mfa/totp/verify`, {
    token: tenant.key,
    body: { code: await codeFor(secret, -30) },
  });
  expect(verified.status).toBe(200);
  const { recoveryCodes } = await json<{ recoveryCodes: string[] }>(verified);
  return { secret, recoveryCodes };
}

/** A TOTP code from an outside implementation (otplib), `offsetSeconds` from now. */
export function codeFor(secret: string, offsetSeconds = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });
}

/** A six-digit code that is none of the codes valid now (±1 step). */
export async function wrongCodeFor(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-30, 0, 30].map((offset) => codeFor(secret, offset))));
  let code = 0;
  while (valid.has(String(code).padStart(6, "0"))) code++;
  return String(code).padStart(6, "0");
}

export function expectRefused(result: LoginResult, error = "invalid_grant") {
  if (result.ok) throw new Error(`expected ${error}, the login succeeded`);
  expect(result.error).toBe(error);
  return result;
}

export function expectSuccess(result: LoginResult) {
  if (!result.ok) throw new Error(`expected a success, got ${result.error}: ${result.description}`);
  return result;
}

/**
 * Lets a throttle's current lock lapse, as time would: its stored lock end moves to the past, its count stays
 * (the key `throttle` of the object, docs/storage-schema.md).
 */
export async function letLockLapse(name: string): Promise<void> {
  const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name));
  await runInDurableObject(stub, (_instance, state) => {
    const stored = state.storage.kv.get<{ lockedUntil: number }>("throttle");
    if (!stored) throw new Error(`no throttle state in ${name}`);
    state.storage.kv.put("throttle", { ...stored, lockedUntil: Date.now() - 1 });
  });
}

export interface PasswordClient {
  clientId: string;
  clientSecret: string;
}

/** An OAuth client allowed the password grant (through the API). */
export async function createPasswordClient(tenant: TestTenant, roles = ["manager"]): Promise<PasswordClient> {
  const response = await call("POST", "/v1/oauth/clients", {
    token: tenant.key,
    body: { name: "Login tests", grantTypes: ["password", "refresh_token"], roles },
  });
  expect(response.status).toBe(201);
  return json<PasswordClient>(response);
}

/** `POST /oauth/token` with `grant_type=password` (RFC 6749 §4.3.2), client authenticated with HTTP Basic. */
export async function passwordGrant(
  client: PasswordClient,
  form: { username: string; password: string; totp?: string },
  ip = "203.0.113.9",
) {
  const basic = btoa(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`);
  const response = await fetchWorker("http://uom.test/oauth/token", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${basic}`,
      "cf-connecting-ip": ip,
    },
    body: new URLSearchParams({ grant_type: "password", ...form }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    body: await json<{ access_token?: string; error?: string; error_description?: string }>(response),
  };
}
