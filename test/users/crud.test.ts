import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { type ApiUser, expectUserShape, getUser, patchUser, readUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users CRUD" });
});

describe("POST /v1/users", () => {
  it("creates a user: 201, Location, ETag and the full User shape, never the password", async () => {
    const email = uniqueEmail("ada");
    const before = Date.now();
    const response = await call("POST", "/v1/users", {
      token: tenant.key,
      body: {
        email,
        username: "ada_lovelace",
        name: "Ada Lovelace",
        phone: "+14155550123",
        attributes: { department: "math", seats: 3, tags: ["a", "b"], nested: { x: 1 } },
        roles: ["admin", "viewer", "admin"],
        password: "correct horse battery staple",
      },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const user = await json(response);
    expectUserShape(user);
    expect(response.headers.get("location")).toBe(`/v1/users/${user.id}`);
    expect(response.headers.get("etag")).toMatch(/^"[^"]+"$/);
    expect(user).toEqual({
      id: expect.stringMatching(/^usr_/),
      email,
      username: "ada_lovelace",
      name: "Ada Lovelace",
      phone: "+14155550123",
      status: "active",
      attributes: { department: "math", seats: 3, tags: ["a", "b"], nested: { x: 1 } },
      roles: ["admin", "viewer"],
      externalId: null,
      mfa: { totp: false },
      emailVerified: false,
      createdAt: user.createdAt,
      updatedAt: user.createdAt,
      deletedAt: null,
      lastLoginAt: null,
      lastActiveAt: null,
      loginCount: 0,
    });
    expect(Date.parse(user.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(user.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);

    const read = await getUser(tenant, user.id);
    expect(read.status).toBe(200);
    expect(read.headers.get("etag")).toBe(response.headers.get("etag"));
    const body = await json(read);
    expectUserShape(body);
    expect(body).toEqual(user);
  });

  it("fills defaults for a minimal user (status active, empty attributes and roles, nulls)", async () => {
    const email = uniqueEmail("min");
    const user = await createUser(tenant, { email });
    expectUserShape(user);
    expect(user).toMatchObject({
      email,
      username: null,
      name: null,
      phone: null,
      status: "active",
      attributes: {},
      roles: [],
      mfa: { totp: false },
      deletedAt: null,
      lastLoginAt: null,
      lastActiveAt: null,
      loginCount: 0,
    });
  });

  it("creates a disabled user when asked, and gives every user its own id", async () => {
    const a = await createUser(tenant, { status: "disabled" });
    const b = await createUser(tenant);
    expect(a.status).toBe("disabled");
    expect(a.id).not.toBe(b.id);
  });

  it("GET of an unknown id is 404 USER_NOT_FOUND", async () => {
    await expectProblem(await getUser(tenant, "usr_00000000000000000000000000"), 404, "USER_NOT_FOUND");
  });
});

describe("PATCH /v1/users/{id} (RFC 7396)", () => {
  async function seed(): Promise<ApiUser> {
    return (await createUser(tenant, {
      username: `u${crypto.randomUUID().slice(0, 8)}`,
      name: "Grace Hopper",
      phone: "+14155550100",
      attributes: { department: "navy", level: 3, address: { city: "NYC", zip: "10001" } },
      roles: ["viewer"],
    })) as unknown as ApiUser;
  }

  for (const contentType of ["application/merge-patch+json", "application/json"]) {
    it(`merges with ${contentType}: sets fields, null removes optional ones, nested attributes merge`, async () => {
      const user = await seed();
      const response = await patchUser(
        tenant,
        user.id,
        {
          name: "Grace Brewster Hopper",
          phone: null,
          username: null,
          attributes: { level: 4, department: null, address: { zip: null, state: "NY" }, team: "cobol" },
        },
        { "content-type": contentType },
      );
      expect(response.status).toBe(200);
      const patched = await json(response);
      expectUserShape(patched);
      expect(patched).toMatchObject({
        id: user.id,
        email: user.email,
        name: "Grace Brewster Hopper",
        phone: null,
        username: null,
        status: "active",
        roles: ["viewer"],
        createdAt: user.createdAt,
      });
      expect(patched.attributes).toEqual({ level: 4, address: { city: "NYC", state: "NY" }, team: "cobol" });
      expect(patched.updatedAt >= user.updatedAt).toBe(true);
      const etag = response.headers.get("etag");
      expect(etag).toBeTruthy();

      const { user: read, etag: readEtag } = await readUser(tenant, user.id);
      expect(read).toEqual(patched);
      expect(readEtag).toBe(etag);
    });
  }

  it("replaces arrays as a whole and sets status disabled and back", async () => {
    const user = await seed();
    const one = await json<ApiUser>(
      await patchUser(tenant, user.id, { roles: ["editor", "admin"], status: "disabled" }),
    );
    expect(one.roles).toEqual(["editor", "admin"]);
    expect(one.status).toBe("disabled");
    const two = await json<ApiUser>(await patchUser(tenant, user.id, { status: "active", roles: [] }));
    expect(two.status).toBe("active");
    expect(two.roles).toEqual([]);
  });

  it("an empty patch changes nothing: same ETag, same updatedAt", async () => {
    const user = await seed();
    const { etag } = await readUser(tenant, user.id);
    const response = await patchUser(tenant, user.id, {});
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(etag);
    expect(await json(response)).toEqual(user);
  });

  it("a patch that only sets a password bumps the version but never returns the password", async () => {
    const user = await seed();
    const { etag } = await readUser(tenant, user.id);
    const response = await patchUser(tenant, user.id, { password: "another long secret" });
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).not.toBe(etag);
    expectUserShape(await json(response));
  });

  it("changing the email keeps it case as given and frees the old address", async () => {
    const user = await seed();
    const next = uniqueEmail("Renamed");
    const patched = await json<ApiUser>(await patchUser(tenant, user.id, { email: next }));
    expect(patched.email).toBe(next);
    const reuse = await call("POST", "/v1/users", { token: tenant.key, body: { email: user.email } });
    expect(reuse.status).toBe(201);
  });

  it("PATCH of an unknown user is 404", async () => {
    await expectProblem(await patchUser(tenant, "usr_nope", { name: "x" }), 404, "USER_NOT_FOUND");
  });
});
