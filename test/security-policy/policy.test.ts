import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Security policy" });
});

const DEFAULT_POLICY = {
  password: { minLength: 8, maxLength: 256 },
  mfa: { requiredForRoles: [] },
  cors: { allowedOrigins: [] },
  scim: { lenient: false },
};

function getPolicy(headers: Record<string, string> = {}, token = tenant.key) {
  return call("GET", "/v1/security-policy", { token, headers });
}

function putPolicy(body: unknown, headers: Record<string, string> = {}, token = tenant.key) {
  return call("PUT", "/v1/security-policy", { token, body, headers });
}

async function policyAudit(t = tenant) {
  const page = await json<{ data: { action: string; resource: unknown; changes: unknown }[] }>(
    await call("GET", "/v1/audit-events?action=tenant.security_policy_updated", { token: t.key }),
  );
  return page.data;
}

async function storedPolicy(tenantId: string): Promise<unknown> {
  const row = await env.CONTROL_DB.prepare("SELECT security_policy FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ security_policy: string }>();
  return JSON.parse(row?.security_policy ?? "null");
}

describe("GET /v1/security-policy", () => {
  it("a new tenant has the default policy, with an ETag that If-None-Match honours", async () => {
    const fresh = await createTenant({ name: "Fresh policy" });
    const response = await getPolicy({}, fresh.key);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(DEFAULT_POLICY);
    const etag = response.headers.get("etag");
    expect(etag).toMatch(/^"v\d+"$/);
    expect((await getPolicy({ "if-none-match": etag as string }, fresh.key)).status).toBe(304);
  });
});

describe("PUT /v1/security-policy", () => {
  it("replaces the policy whole (omitted parts take their defaults), stores it, audits the diff once", async () => {
    const before = await getPolicy();
    const policy = {
      password: { minLength: 12, maxLength: 128 },
      mfa: { requiredForRoles: ["admin"] },
      cors: { allowedOrigins: ["https://app.example.com"] },
      scim: { lenient: true },
    };
    const response = await putPolicy(policy);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual(policy);
    expect(response.headers.get("etag")).not.toBe(before.headers.get("etag"));
    expect(await json(await getPolicy())).toEqual(policy);
    expect(await storedPolicy(tenant.id)).toEqual(policy);

    const [event] = await policyAudit();
    expect(event?.resource).toEqual({ type: "tenant", id: tenant.id });
    expect(event?.changes).toEqual({
      "password.minLength": { from: 8, to: 12 },
      "password.maxLength": { from: 256, to: 128 },
      "mfa.requiredForRoles": { from: [], to: ["admin"] },
      "cors.allowedOrigins": { from: [], to: ["https://app.example.com"] },
      "scim.lenient": { from: false, to: true },
    });

    // the same policy again changes nothing and records nothing
    expect((await putPolicy(policy)).status).toBe(200);
    expect(await policyAudit()).toHaveLength(1);

    // a full replacement: what is left out returns to its default
    const partial = await putPolicy({ password: { minLength: 10 } });
    expect(await json(partial)).toEqual({ ...DEFAULT_POLICY, password: { minLength: 10, maxLength: 256 } });
    expect(await policyAudit()).toHaveLength(2);
  });

  it("bad input → 400 naming the field; nothing changes", async () => {
    const before = await getPolicy();
    const etag = before.headers.get("etag");
    const body = await json(before);
    const cases: [unknown, string][] = [
      [{ password: { minLength: 20, maxLength: 10 } }, "password.minLength"],
      [{ password: { minLength: 7 } }, "password.minLength"],
      [{ password: { maxLength: 257 } }, "password.maxLength"],
      [{ cors: { allowedOrigins: ["https://app.example.com/path"] } }, "cors.allowedOrigins.0"],
      [{ cors: { allowedOrigins: ["ftp://files.example.com"] } }, "cors.allowedOrigins.0"],
      [{ mfa: { requiredForRoles: [""] } }, "mfa.requiredForRoles.0"],
      [{ sessions: {} }, "sessions"],
    ];
    for (const [input, field] of cases) {
      const problem = await expectProblem(await putPolicy(input), 400, "VALIDATION_FAILED");
      expect(
        problem.errors?.map((e) => e.field),
        JSON.stringify(input),
      ).toContain(field);
    }
    const after = await getPolicy();
    expect(after.headers.get("etag")).toBe(etag);
    expect(await json(after)).toEqual(body);
  });

  it("If-Match: a stale ETag → 412 and nothing written; the current one → 200", async () => {
    const current = (await getPolicy()).headers.get("etag") as string;
    const stale = `"v${Number(current.slice(2, -1)) - 1}"`;
    await expectProblem(
      await putPolicy({ password: { minLength: 14 } }, { "if-match": stale }),
      412,
      "PRECONDITION_FAILED",
    );
    expect((await getPolicy()).headers.get("etag")).toBe(current);
    const ok = await putPolicy({ password: { minLength: 14 } }, { "if-match": current });
    expect(ok.status).toBe(200);
  });

  it("needs settings:read / settings:write: a manager's key gets 403", async () => {
    const created = await call("POST", "/v1/api-keys", {
      token: tenant.key,
      body: { name: "manager", roles: ["manager"] },
    });
    expect(created.status).toBe(201);
    const { secret } = await json<{ secret: string }>(created);
    await expectProblem(await getPolicy({}, secret), 403, "FORBIDDEN");
    await expectProblem(await putPolicy(DEFAULT_POLICY, {}, secret), 403, "FORBIDDEN");
  });

  it("each tenant has its own policy", async () => {
    const other = await createTenant({ name: "Other policy" });
    await putPolicy({ password: { minLength: 30 } }, {}, other.key);
    expect((await json<typeof DEFAULT_POLICY>(await getPolicy())).password.minLength).not.toBe(30);
    expect(await policyAudit(other)).toHaveLength(1);
  });
});
