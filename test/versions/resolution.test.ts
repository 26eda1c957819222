import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";
import { createClient, createLoginUser, PASSWORD, passwordGrant } from "../oauth/support";

// Which dated version a request is answered in: Uom-Version > the API key's pinned version > the latest.

const OLDEST = "2026-04-01";
const LATEST = "2026-11-01";

let tenant: TestTenant;
let pinned: { id: string; secret: string };

async function pinnedKey(apiVersion?: string) {
  const response = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Pinned", roles: ["admin"], ...(apiVersion ? { apiVersion } : {}) },
  });
  expect(response.status).toBe(201);
  return json<{ id: string; secret: string; apiVersion: string }>(response);
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Versions resolution" });
  pinned = await pinnedKey(OLDEST);
});

describe("GET /v1/versions", () => {
  it("lists the versions newest first with their changes, and the deprecations, without a credential", async () => {
    const response = await call("GET", "/v1/versions");
    expect(response.status).toBe(200);
    const body = await json<{
      latest: string;
      versions: { version: string; released: string; changes: { description: string; routes: string[] }[] }[];
      deprecations: { method: string; path: string; deprecatedAt: string; sunset: string; successor: string }[];
    }>(response);
    expect(body.latest).toBe(LATEST);
    expect(body.versions.map((v) => v.version)).toEqual([LATEST, OLDEST]);
    expect(body.versions[0]?.released).toBe(LATEST);
    expect(body.versions[0]?.changes[0]?.routes).toEqual(
      expect.arrayContaining(["GET /v1/users", "GET /v1/users/{id}", "POST /v1/users/{id}/restore"]),
    );
    expect(body.versions[1]?.changes).toEqual([]);
    expect(body.deprecations).toEqual([
      {
        method: "POST",
        path: "/v1/users/{id}/undelete",
        deprecatedAt: "2026-11-01T00:00:00Z",
        sunset: "2027-06-30T00:00:00Z",
        successor: "POST /v1/users/{id}/restore",
        docs: "/docs",
      },
    ]);
  });

  it("names only routes the service serves", async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call("GET", "/v1/openapi.json"));
    const served = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)),
    );
    const body = await json<{
      versions: { changes: { routes: string[] }[] }[];
      deprecations: { method: string; path: string; successor: string }[];
    }>(await call("GET", "/v1/versions"));
    const named = [
      ...body.versions.flatMap((v) => v.changes.flatMap((c) => c.routes)),
      ...body.deprecations.flatMap((d) => [`${d.method} ${d.path}`, d.successor]),
    ];
    expect(named.filter((route) => !served.has(route))).toEqual([]);
  });
});

describe("API keys are pinned", () => {
  it("to the version asked for at creation, else to the latest; an unknown one is refused", async () => {
    expect((await pinnedKey()).apiVersion).toBe(LATEST);
    const shown = await json<{ apiVersion: string }>(
      await call("GET", `/v1/api-keys/${pinned.id}`, { token: tenant.key }),
    );
    expect(shown.apiVersion).toBe(OLDEST);
    const list = await json<{ data: { id: string; apiVersion: string }[] }>(
      await call("GET", "/v1/api-keys?limit=1000", { token: tenant.key }),
    );
    expect(list.data.find((k) => k.id === tenant.keyId)?.apiVersion).toBe(LATEST);
    const problem = await expectProblem(
      await call("POST", "/v1/api-keys", {
        token: tenant.key,
        body: { name: "Between releases", roles: ["basic"], apiVersion: "2026-06-01" },
      }),
      400,
      "VALIDATION_FAILED",
    );
    expect(problem.errors?.map((e) => e.field)).toEqual(["apiVersion"]);
  });

  it("keys from before pinning read as 2026-11-01, the shape they were always answered in", async () => {
    const db = await tenantDatabase(tenant.id);
    const columns = await db.prepare("PRAGMA table_info(api_keys)").all<{ name: string; dflt_value: string }>();
    expect(columns.results.find((c) => c.name === "api_version")?.dflt_value).toBe("'2026-11-01'");
  });
});

describe("resolution", () => {
  it("the header wins over the key's pin, the pin over the latest; every authenticated answer names it", async () => {
    const of = async (token: string, headers: Record<string, string> = {}) =>
      (await call("GET", "/v1/users?limit=1", { token, headers })).headers.get("uom-version");
    expect(await of(pinned.secret)).toBe(OLDEST);
    expect(await of(pinned.secret, { "Uom-Version": LATEST })).toBe(LATEST);
    expect(await of(tenant.key)).toBe(LATEST);
    expect(await of(tenant.key, { "Uom-Version": OLDEST })).toBe(OLDEST);
    // refusals of a known credential carry it too
    const basic = await createKey(tenant, ["basic"]);
    const refused = await call("GET", "/v1/api-keys", { token: basic.secret, headers: { "Uom-Version": OLDEST } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("uom-version")).toBe(OLDEST);
    // no credential, no version
    expect((await call("GET", "/v1/users")).headers.get("uom-version")).toBeNull();
  });

  it("access tokens and the admin token: the header, else the latest", async () => {
    const client = await createClient(tenant, { grantTypes: ["password"], roles: ["basic"] });
    const user = await createLoginUser(tenant);
    const { access_token } = await passwordGrant(client, user.email, PASSWORD);
    const me = (headers: Record<string, string> = {}) => call("GET", "/v1/me", { token: access_token, headers });
    expect((await me()).headers.get("uom-version")).toBe(LATEST);
    expect((await me({ "Uom-Version": OLDEST })).headers.get("uom-version")).toBe(OLDEST);
    const admin = (headers: Record<string, string> = {}) => call("GET", "/v1/tenants", { token: ADMIN_TOKEN, headers });
    expect((await admin()).headers.get("uom-version")).toBe(LATEST);
    expect((await admin({ "Uom-Version": OLDEST })).headers.get("uom-version")).toBe(OLDEST);
  });

  it("an unknown version, a date between two releases included, is 400 UNSUPPORTED_VERSION and changes nothing", async () => {
    const db = await tenantDatabase(tenant.id);
    const before = await count(db, "users");
    for (const asked of ["2026-06-01", "2027-01-01", "latest", ""]) {
      const response = await call("POST", "/v1/users", {
        token: pinned.secret,
        headers: { "Uom-Version": asked },
        body: { email: `unsupported-${crypto.randomUUID()}@example.com` },
      });
      const problem = await expectProblem(response, 400, "UNSUPPORTED_VERSION");
      expect(problem).toMatchObject({ versions: [OLDEST, LATEST], latest: LATEST });
    }
    expect(await count(db, "users")).toBe(before);
  });
});
