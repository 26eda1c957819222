import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { createClient, createLoginUser, PASSWORD, passwordGrant } from "../oauth/support";

// The one dated change so far: in 2026-04-01 a user had `mfaEnabled: boolean`; since 2026-11-01, `mfa: {totp}`.
// A request resolved to 2026-04-01 gets every user object in the old shape, with ETags of its own.

const OLDEST = "2026-04-01";
const LATEST = "2026-11-01";

type Body = Record<string, unknown>;

let tenant: TestTenant;
let old: string;

/** The user objects' shape: both members are checked, so a body in neither shape fails too. */
function expectOldShape(user: unknown) {
  expect(user).toMatchObject({ mfaEnabled: false });
  expect(user).not.toHaveProperty("mfa");
}
function expectLatestShape(user: unknown) {
  expect(user).toMatchObject({ mfa: { totp: false } });
  expect(user).not.toHaveProperty("mfaEnabled");
}

async function ok(response: Response, status = 200): Promise<{ body: Body; response: Response }> {
  expect(response.status).toBe(status);
  return { body: await json<Body>(response), response };
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Versions shapes" });
  const response = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Old integration", roles: ["admin"], apiVersion: OLDEST },
  });
  old = (await json<{ secret: string }>(response)).secret;
});

describe("a key pinned to 2026-04-01", () => {
  it("gets mfaEnabled on every user route, in the same place among the members, and Uom-Version: 2026-04-01", async () => {
    const created = await ok(await call("POST", "/v1/users", { token: old, body: { email: uniqueEmail("old") } }), 201);
    expectOldShape(created.body);
    expect(created.response.headers.get("uom-version")).toBe(OLDEST);
    const id = created.body.id as string;
    const latest = await ok(await call("GET", `/v1/users/${id}`, { token: tenant.key }));
    const names = Object.keys(latest.body).map((name) => (name === "mfa" ? "mfaEnabled" : name));
    expect(Object.keys(created.body)).toEqual(names);

    expectOldShape((await ok(await call("GET", `/v1/users/${id}`, { token: old }))).body);
    const list = (await ok(await call("GET", "/v1/users?limit=5&count=true", { token: old }))).body;
    expect((list.data as unknown[]).length).toBeGreaterThan(0);
    for (const user of list.data as unknown[]) expectOldShape(user);
    expect(list).toHaveProperty("nextCursor");
    expect(list.total).toBeTypeOf("number");
    const patched = await call("PATCH", `/v1/users/${id}`, { token: old, body: { name: "Ada" } });
    expectOldShape((await ok(patched)).body);
    expectOldShape(
      (await ok(await call("PUT", `/v1/users/${id}/roles`, { token: old, body: { roles: ["basic"] } }))).body,
    );
    const deleted = (await ok(await call("DELETE", `/v1/users/${id}`, { token: old }))).body;
    expectOldShape(deleted);
    expect(deleted.status).toBe("deleted");
    const restored = (await ok(await call("POST", `/v1/users/${id}/restore`, { token: old }))).body;
    expectOldShape(restored);
    expect(restored.status).toBe("active");
    await ok(await call("DELETE", `/v1/users/${id}`, { token: old }));
    expectOldShape((await ok(await call("POST", `/v1/users/${id}/undelete`, { token: old }))).body);
    // a purge has no body to shape
    expect((await call("DELETE", `/v1/users/${id}?permanent=true`, { token: old })).status).toBe(204);
  });

  it("bulk results carry ids, not users: the same in every version", async () => {
    const operations = [{ op: "create", data: { email: uniqueEmail("bulk") } }];
    const body = (await ok(await call("POST", "/v1/users/bulk", { token: old, body: { operations } }))).body;
    expect(body).toEqual({ results: [{ index: 0, status: 201, id: expect.stringMatching(/^usr_/) }] });
  });

  it("GET /v1/me: an end user's own object, for a token that asks for 2026-04-01", async () => {
    const client = await createClient(tenant, { grantTypes: ["password"], roles: ["basic"] });
    const user = await createLoginUser(tenant);
    const { access_token } = await passwordGrant(client, user.email, PASSWORD);
    const asOld = (await ok(await call("GET", "/v1/me", { token: access_token, headers: { "Uom-Version": OLDEST } })))
      .body;
    expectOldShape(asOld.user);
    expectLatestShape((await ok(await call("GET", "/v1/me", { token: access_token }))).body.user);
    // a key's answer has no user: nothing to change
    expect((await ok(await call("GET", "/v1/me", { token: old }))).body).not.toHaveProperty("user");
  });

  it("the header overrides the pin: the latest shape, as every other key gets it", async () => {
    const created = await call("POST", "/v1/users", {
      token: old,
      headers: { "Uom-Version": LATEST },
      body: { email: uniqueEmail("new") },
    });
    expectLatestShape((await ok(created, 201)).body);
    const page = (await ok(await call("GET", "/v1/users?limit=1", { token: tenant.key }))).body;
    expectLatestShape((page.data as unknown[])[0]);
  });

  it("problems are never rewritten", async () => {
    const response = await call("GET", "/v1/users/usr_missing", { token: old });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(response.headers.get("uom-version")).toBe(OLDEST);
    expect(response.headers.get("etag")).toBeNull();
  });
});

describe("ETags per version", () => {
  it("each version's representation has its own validator; If-None-Match and If-Match compare within a version", async () => {
    const id = (await ok(await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail() } }), 201))
      .body.id as string;
    const latest = (await call("GET", `/v1/users/${id}`, { token: tenant.key })).headers.get("etag");
    const first = await call("GET", `/v1/users/${id}`, { token: old });
    const oldTag = first.headers.get("etag");
    expect(latest).toBe('"v1"');
    expect(oldTag).toBe(`"v1@${OLDEST}"`);
    expect(first.headers.get("vary")).toMatch(/uom-version/i);

    const get = (token: string, tag: string, headers: Record<string, string> = {}) =>
      call("GET", `/v1/users/${id}`, { token, headers: { "If-None-Match": tag, ...headers } });
    const notModified = await get(old, oldTag as string);
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("etag")).toBe(oldTag);
    // another version's tag is another representation: the full answer
    expect((await get(old, latest as string)).status).toBe(200);
    expect((await get(tenant.key, oldTag as string)).status).toBe(200);
    expect((await get(old, oldTag as string, { "Uom-Version": LATEST })).status).toBe(200);
    expect((await get(tenant.key, latest as string)).status).toBe(304);

    // a write with the old representation's tag applies in that version; the latest's tag is stale there
    const stale = await call("PATCH", `/v1/users/${id}`, {
      token: old,
      headers: { "If-Match": latest as string },
      body: { name: "Nope" },
    });
    expect(stale.status).toBe(412);
    const patched = await call("PATCH", `/v1/users/${id}`, {
      token: old,
      headers: { "If-Match": oldTag as string },
      body: { name: "Grace" },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("etag")).toBe(`"v2@${OLDEST}"`);
    expectOldShape(await patched.json());
  });

  it("an idempotent replay is shaped for the request it answers", async () => {
    const key = crypto.randomUUID();
    const body = { email: uniqueEmail("replay") };
    const first = await call("POST", "/v1/users", { token: old, headers: { "Idempotency-Key": key }, body });
    expectOldShape((await ok(first, 201)).body);
    const again = await call("POST", "/v1/users", {
      token: old,
      headers: { "Idempotency-Key": key, "Uom-Version": LATEST },
      body,
    });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("etag")).toBe('"v1"');
    expectLatestShape((await ok(again, 201)).body);
  });
});
