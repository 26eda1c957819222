import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, dumpDatabase, sha256, tenantDatabase } from "../helpers/db";
import { clientCredentials, createClient, oauthError } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "OAuth clients" });
});

interface Client {
  id: string;
  clientId: string;
  clientSecret?: string;
  name: string;
  grantTypes: string[];
  roles: string[];
  createdAt: string;
}

async function apiKeyWithRoles(roles: string[]): Promise<string> {
  const response = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "limited", roles } });
  expect(response.status).toBe(201);
  return (await json<{ secret: string }>(response)).secret;
}

describe("POST /v1/oauth/clients", () => {
  it("creates a client whose secret is shown once and stored only as its SHA-256", async () => {
    const response = await call("POST", "/v1/oauth/clients", {
      token: tenant.key,
      body: { name: "Backend", grantTypes: ["client_credentials"], roles: ["manager"] },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const created = await json<Client>(response);
    expect(created).toEqual({
      id: expect.stringMatching(/^cli_/),
      clientId: expect.stringMatching(/^uom_ci_[0-9A-Za-z]{22}$/),
      clientSecret: expect.stringMatching(/^uom_cs_[0-9A-Za-z]{43}$/),
      name: "Backend",
      grantTypes: ["client_credentials"],
      roles: ["manager"],
      createdAt: expect.any(String),
    });

    const db = await tenantDatabase(tenant.id);
    const dump = `${await dumpDatabase(db)}\n${await dumpDatabase(env.CONTROL_DB)}`;
    expect(dump).not.toContain(created.clientSecret);
    expect(dump).toContain(await sha256(created.clientSecret as string));
    expect(
      await count(env.CONTROL_DB, "oauth_client_index", "client_id = ? AND tenant_id = ?", created.clientId, tenant.id),
    ).toBe(1);

    const audit = await db
      .prepare("SELECT action, actor_type, changes FROM audit_events WHERE resource_id = ?")
      .bind(created.id)
      .all<{ action: string; actor_type: string; changes: string }>();
    expect(audit.results).toEqual([
      { action: "oauth_client.created", actor_type: "api_key", changes: expect.any(String) },
    ]);
    expect(JSON.parse(audit.results[0]?.changes ?? "{}")).toMatchObject({
      name: { from: null, to: "Backend" },
      clientSecret: { from: null, to: "[redacted]" },
    });
  });

  it("refuses bad input with field errors and creates nothing", async () => {
    const before = await count(await tenantDatabase(tenant.id), "oauth_clients");
    const cases: [unknown, string][] = [
      [{ name: "", grantTypes: ["client_credentials"], roles: [] }, "name"],
      [{ name: "x", grantTypes: [], roles: [] }, "grantTypes"],
      [{ name: "x", grantTypes: ["implicit"], roles: [] }, "grantTypes.0"],
      [{ name: "x", grantTypes: ["refresh_token"], roles: [] }, "grantTypes"],
      [{ name: "x", grantTypes: ["password", "password"], roles: [] }, "grantTypes"],
      [{ name: "x", grantTypes: ["client_credentials"], roles: ["superuser"] }, "roles.0"],
      [{ name: "x", grantTypes: ["client_credentials"], roles: [], secret: "mine" }, "secret"],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(
        await call("POST", "/v1/oauth/clients", { token: tenant.key, body }),
        400,
        "VALIDATION_FAILED",
      );
      expect(
        problem.errors?.map((e) => e.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(await count(await tenantDatabase(tenant.id), "oauth_clients")).toBe(before);
  });

  it("a caller can grant only roles it holds (403 naming them, nothing created)", async () => {
    // no built-in role has oauth-clients:write without everything else; a narrowed token does
    const admin = await createClient(tenant, { roles: ["admin"] });
    const { access_token } = await clientCredentials(admin, "oauth-clients:write users:read me:read");
    const db = await tenantDatabase(tenant.id);
    const before = await count(db, "oauth_clients");
    const problem = await expectProblem(
      await call("POST", "/v1/oauth/clients", {
        token: access_token,
        body: { name: "x", grantTypes: ["client_credentials"], roles: ["basic", "manager"] },
      }),
      403,
      "OAUTH_CLIENT_ROLES_NOT_HELD",
    );
    expect(problem).toMatchObject({ roles: ["manager"] });
    expect(await count(db, "oauth_clients")).toBe(before);
    // what it holds, it may grant
    const allowed = await call("POST", "/v1/oauth/clients", {
      token: access_token,
      body: { name: "Basic client", grantTypes: ["client_credentials"], roles: ["basic"] },
    });
    expect(allowed.status).toBe(201);
    // and a credential without oauth-clients:write may not create clients at all
    const manager = await apiKeyWithRoles(["manager"]);
    await expectProblem(
      await call("POST", "/v1/oauth/clients", {
        token: manager,
        body: { name: "x", grantTypes: ["client_credentials"], roles: [] },
      }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("GET /v1/oauth/clients", () => {
  it("lists the tenant's live clients, oldest first, paged, never a secret", async () => {
    const other = await createTenant({ name: "Other tenant" });
    await createClient(other);
    const created = [await createClient(tenant, { name: "A" }), await createClient(tenant, { name: "B" })];
    const seen: Client[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
      const page = await json<{ data: Client[]; nextCursor: string | null }>(
        await call("GET", `/v1/oauth/clients${query}`, { token: tenant.key }),
      );
      seen.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    const ids = seen.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(created.map((c) => c.id)));
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.every((c) => c.clientSecret === undefined)).toBe(true);
    expect(JSON.stringify(seen)).not.toContain("uom_cs_");
    expect(seen.map((c) => c.createdAt)).toEqual([...seen.map((c) => c.createdAt)].sort());
  });
});

describe("DELETE /v1/oauth/clients/{id}", () => {
  it("deletes the client: its tokens and the client itself stop at once, audited", async () => {
    const client = await createClient(tenant);
    const { access_token } = await clientCredentials(client);
    expect((await call("GET", "/v1/users", { token: access_token })).status).toBe(200);

    expect((await call("DELETE", `/v1/oauth/clients/${client.id}`, { token: tenant.key })).status).toBe(204);

    await expectProblem(await call("GET", "/v1/users", { token: access_token }), 401, "INVALID_CREDENTIAL");
    expect(await oauthError(clientCredentials(client))).toEqual({ error: "invalid_client", status: 401 });
    expect(await count(env.CONTROL_DB, "oauth_client_index", "client_id = ?", client.clientId)).toBe(0);
    const listed = await json<{ data: Client[] }>(
      await call("GET", "/v1/oauth/clients?limit=1000", { token: tenant.key }),
    );
    expect(listed.data.map((c) => c.id)).not.toContain(client.id);
    const db = await tenantDatabase(tenant.id);
    expect(await count(db, "audit_events", "action = 'oauth_client.deleted' AND resource_id = ?", client.id)).toBe(1);

    await expectProblem(
      await call("DELETE", `/v1/oauth/clients/${client.id}`, { token: tenant.key }),
      404,
      "OAUTH_CLIENT_NOT_FOUND",
    );
  });

  it("another tenant's client is 404 and stays working", async () => {
    const other = await createTenant({ name: "Other" });
    const client = await createClient(tenant);
    await expectProblem(
      await call("DELETE", `/v1/oauth/clients/${client.id}`, { token: other.key }),
      404,
      "OAUTH_CLIENT_NOT_FOUND",
    );
    expect((await clientCredentials(client)).access_token).toBeTruthy();
  });
});

describe("tenant deletion", () => {
  it("removes the tenant's client index entries and stops its clients", async () => {
    const doomed = await createTenant({ name: "Doomed" });
    const client = await createClient(doomed);
    const { access_token } = await clientCredentials(client);
    expect((await call("DELETE", `/v1/tenants/${doomed.id}`, { token: ADMIN_TOKEN })).status).toBeLessThan(300);
    expect(await count(env.CONTROL_DB, "oauth_client_index", "tenant_id = ?", doomed.id)).toBe(0);
    await expectProblem(await call("GET", "/v1/users", { token: access_token }), 401, "INVALID_CREDENTIAL");
  });
});
