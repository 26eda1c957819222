import { env } from "cloudflare:test";
import { decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { dumpDatabase, runCron } from "../helpers/db";
import { clientCredentials, createClient, type TestClient, verifyWithJwks } from "./support";

// Storage is fresh for this file: the first test sees a deployment that has never signed a token.

let tenant: TestTenant;
let client: TestClient;

interface Jwks {
  keys: { kid: string; kty: string; crv: string; alg: string; use: string; d?: string }[];
}

async function jwks(): Promise<Jwks> {
  const response = await call("GET", "/.well-known/jwks.json");
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("public, max-age=300");
  return json<Jwks>(response);
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

async function rotate(body: Record<string, unknown> = {}) {
  const response = await call("POST", "/v1/oauth/signing-keys/rotate", { token: ADMIN_TOKEN, body });
  expect(response.status).toBe(201);
  return json<{ kid: string; createdAt: string; activatesAt: string; retired: { kid: string }[] }>(response);
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Signing keys" });
  client = await createClient(tenant);
});

describe("the first key", () => {
  it("is created by the first grant, signs at once, and is published: public half only", async () => {
    expect((await jwks()).keys).toEqual([]);
    const { access_token } = await clientCredentials(client);
    const published = await jwks();
    expect(published.keys).toEqual([
      expect.objectContaining({ kid: kidOf(access_token), kty: "EC", crv: "P-256", alg: "ES256", use: "sig" }),
    ]);
    expect(published.keys[0]?.d).toBeUndefined();
    // at rest the private key is sealed: no JWK private member anywhere in the control database
    const dump = await dumpDatabase(env.CONTROL_DB);
    expect(dump).not.toMatch(/\\?"d\\?":/);
  });
});

describe("rotation", () => {
  it("publishes the new key before it signs: tokens keep the old kid until it activates", async () => {
    const before = kidOf((await clientCredentials(client)).access_token);
    const rotated = await rotate();
    expect(Date.parse(rotated.activatesAt) - Date.parse(rotated.createdAt)).toBeGreaterThanOrEqual(300_000);
    expect(rotated.retired.map((k) => k.kid)).toEqual([before]);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual(expect.arrayContaining([before, rotated.kid]));
    expect(kidOf((await clientCredentials(client)).access_token)).toBe(before);
  });

  it("immediate: new tokens use the new kid; old tokens still verify and work; the JWKS holds both", async () => {
    const old = (await clientCredentials(client)).access_token;
    const rotated = await rotate({ immediate: true });
    const fresh = (await clientCredentials(client)).access_token;
    expect(kidOf(fresh)).toBe(rotated.kid);
    expect(kidOf(old)).not.toBe(rotated.kid);
    const kids = (await jwks()).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([kidOf(old), rotated.kid]));
    expect((await verifyWithJwks(old)).kid).toBe(kidOf(old));
    expect((await verifyWithJwks(fresh)).kid).toBe(rotated.kid);
    expect((await call("GET", "/v1/users", { token: old })).status).toBe(200);
    expect((await call("GET", "/v1/users", { token: fresh })).status).toBe(200);
  });

  it("revokePrevious: a compromised key leaves the JWKS and its tokens stop", async () => {
    const old = (await clientCredentials(client)).access_token;
    const rotated = await rotate({ revokePrevious: true });
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([rotated.kid]);
    await expectProblem(await call("GET", "/v1/users", { token: old }), 401, "INVALID_CREDENTIAL");
    const fresh = (await clientCredentials(client)).access_token;
    expect(kidOf(fresh)).toBe(rotated.kid);
    expect((await call("GET", "/v1/users", { token: fresh })).status).toBe(200);
  });

  it("is audited in the platform trail", async () => {
    const rotated = await rotate();
    const row = await env.CONTROL_DB.prepare("SELECT action, actor_type FROM audit_events WHERE resource_id = ?")
      .bind(rotated.kid)
      .first();
    expect(row).toEqual({ action: "signing_key.rotated", actor_type: "admin" });
  });

  it("is for the platform admin only; bad input is a 400 problem", async () => {
    await expectProblem(
      await call("POST", "/v1/oauth/signing-keys/rotate", { token: tenant.key, body: {} }),
      403,
      "ADMIN_CREDENTIAL_REQUIRED",
    );
    await expectProblem(
      await call("POST", "/v1/oauth/signing-keys/rotate", { token: ADMIN_TOKEN, body: { immediate: "yes" } }),
      400,
      "VALIDATION_FAILED",
    );
  });
});

describe("the daily job", () => {
  it("rotates a key older than 30 days and forgets keys that left the JWKS", async () => {
    const longAgo = new Date(Date.now() - 31 * 24 * 3600 * 1000).toISOString();
    await env.CONTROL_DB.prepare("UPDATE signing_keys SET created_at = ? WHERE retires_at IS NULL").bind(longAgo).run();
    const gone = new Date(Date.now() - 1000).toISOString();
    await env.CONTROL_DB.prepare("UPDATE signing_keys SET expires_at = ? WHERE retires_at IS NOT NULL")
      .bind(gone)
      .run();
    const before = await env.CONTROL_DB.prepare("SELECT kid FROM signing_keys WHERE retires_at IS NULL").all<{
      kid: string;
    }>();
    expect(before.results.length).toBeGreaterThan(0);

    await runCron("17 3 * * *");

    const { results } = await env.CONTROL_DB.prepare(
      "SELECT kid, created_at, retires_at, expires_at FROM signing_keys ORDER BY created_at",
    ).all<{ kid: string; created_at: string; retires_at: string | null; expires_at: string | null }>();
    const fresh = results.filter((k) => k.retires_at === null);
    expect(fresh).toHaveLength(1);
    expect(Date.parse(fresh[0]?.created_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    // the old ones retire when the new one activates and stay published an hour longer
    for (const old of before.results) {
      const row = results.find((k) => k.kid === old.kid);
      expect(row?.retires_at).toBeTruthy();
      expect(Date.parse(row?.expires_at ?? "") - Date.parse(row?.retires_at ?? "")).toBe(3600_000);
    }
    // expired keys are gone from D1
    expect(results.every((k) => k.expires_at === null || Date.parse(k.expires_at) > Date.now())).toBe(true);

    // nothing is due the day after
    await runCron("17 3 * * *");
    const again = await env.CONTROL_DB.prepare(
      "SELECT count(*) AS n FROM signing_keys WHERE retires_at IS NULL",
    ).first<{
      n: number;
    }>();
    expect(again?.n).toBe(1);
  });
});
