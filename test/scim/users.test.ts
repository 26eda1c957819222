import { beforeAll, describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import {
  createScimTenant,
  createScimUser,
  type Doc,
  expectScimError,
  expectValidResource,
  newUser,
  type ScimTenant,
  scim,
  scimBody,
  URN_LIST,
  URN_USER,
  uniqueName,
} from "./support";

let tenant: ScimTenant;

beforeAll(async () => {
  tenant = await createScimTenant("SCIM users");
});

describe("POST /scim/v2/Users", () => {
  it("creates a user, answers 201 with Location and ETag, a valid SCIM User, and /v1/users sees the same user", async () => {
    const body = newUser({
      externalId: "okta-00u1",
      phoneNumbers: [{ value: "+14155550123", type: "mobile" }],
      password: "a long enough secret",
    });
    const response = await scim(tenant.scim, "POST", "/Users", body);
    const user = await scimBody<Doc>(response, 201);
    expectValidResource(user, "User");
    expect(response.headers.get("location")).toBe(user.meta.location);
    expect(response.headers.get("etag")).toBe(user.meta.version);
    expect(user).toMatchObject({
      schemas: [URN_USER],
      userName: body.userName,
      externalId: "okta-00u1",
      name: { formatted: "Ada Lovelace" },
      displayName: "Ada Lovelace",
      emails: [{ value: (body.emails as { value: string }[])[0]?.value, type: "work", primary: true }],
      phoneNumbers: [{ value: "+14155550123", type: "work", primary: true }],
      active: true,
      meta: { resourceType: "User", location: `http://uom.test/scim/v2/Users/${user.id}` },
    });
    expect(user).not.toHaveProperty("password");
    const v1 = await json(await call("GET", `/v1/users/${user.id}`, { token: tenant.key }));
    expect(v1).toMatchObject({
      username: body.userName,
      externalId: "okta-00u1",
      phone: "+14155550123",
      status: "active",
    });
  });

  it("takes an email-shaped userName as the email of a user without username, and joins name parts", async () => {
    const email = `${uniqueName("okta")}@example.com`;
    const user = await scimBody<Doc>(
      await scim(tenant.scim, "POST", "/Users", {
        schemas: [URN_USER],
        userName: email,
        name: { givenName: "Grace", familyName: "Hopper" },
        active: false,
      }),
      201,
    );
    expect(user).toMatchObject({
      userName: email,
      emails: [{ value: email }],
      name: { formatted: "Grace Hopper" },
      active: false,
    });
    const v1 = await json(await call("GET", `/v1/users/${user.id}`, { token: tenant.key }));
    expect(v1).toMatchObject({ username: null, email, name: "Grace Hopper", status: "disabled" });
  });

  it("refuses a userName that is another email than the user's, bad values and missing ones with invalidValue, creating nothing", async () => {
    const before = await scimBody<{ totalResults: number }>(await scim(tenant.scim, "GET", "/Users?count=0"), 200);
    const cases = [
      newUser({ userName: "someone@example.com" }),
      newUser({ userName: undefined }),
      newUser({ emails: undefined, userName: "plainname" }),
      newUser({ phoneNumbers: [{ value: "555-1234" }] }),
      newUser({ active: "False" }),
      newUser({ emails: "ada@example.com" }),
    ];
    for (const body of cases)
      await expectScimError(await scim(tenant.scim, "POST", "/Users", body), 400, "invalidValue");
    await expectScimError(await scim(tenant.scim, "POST", "/Users", newUser({ nickname2: "x" })), 400, "invalidSyntax");
    const malformed = await scim(tenant.scim, "POST", "/Users", undefined, {});
    expect(malformed.status).toBe(400);
    const raw = await call("POST", "/scim/v2/Users", {
      token: tenant.scim,
      rawBody: "{not json",
      headers: { "content-type": "application/scim+json" },
    });
    await expectScimError(raw, 400, "invalidSyntax");
    const after = await scimBody<{ totalResults: number }>(await scim(tenant.scim, "GET", "/Users?count=0"), 200);
    expect(after.totalResults).toBe(before.totalResults);
  });

  it("answers 409 uniqueness for a taken userName, email or externalId", async () => {
    const first = await createScimUser(tenant.scim, { externalId: uniqueName("ext") });
    const email = (first.emails as { value: string }[])[0]?.value;
    await expectScimError(
      await scim(tenant.scim, "POST", "/Users", newUser({ userName: first.userName })),
      409,
      "uniqueness",
    );
    await expectScimError(
      await scim(tenant.scim, "POST", "/Users", newUser({ emails: [{ value: email?.toUpperCase() }] })),
      409,
      "uniqueness",
    );
    await expectScimError(
      await scim(tenant.scim, "POST", "/Users", newUser({ externalId: first.externalId })),
      409,
      "uniqueness",
    );
  });

  it("accepts application/json too, and ignores read-only and unstored core attributes", async () => {
    const body = newUser({
      id: "usr_forged",
      meta: { created: "2000-01-01T00:00:00Z" },
      title: "Countess",
      groups: [{ value: "admin" }],
    });
    const response = await call("POST", "/scim/v2/Users", { token: tenant.scim, body });
    const user = await scimBody<Doc>(response, 201);
    expect(user.id).not.toBe("usr_forged");
    expect(user).not.toHaveProperty("title");
    expect(user).not.toHaveProperty("groups");
  });
});

describe("GET /scim/v2/Users/{id}", () => {
  it("reads a user, honours If-None-Match with 304, projects attributes, and 404s a soft-deleted one", async () => {
    const user = await createScimUser(tenant.scim);
    const read = await scim(tenant.scim, "GET", `/Users/${user.id}`);
    expect(await scimBody(read, 200)).toEqual(user);
    const cached = await scim(tenant.scim, "GET", `/Users/${user.id}`, undefined, {
      "if-none-match": user.meta.version,
    });
    expect(cached.status).toBe(304);
    const only = await scimBody(
      await scim(tenant.scim, "GET", `/Users/${user.id}?attributes=userName,emails.value,meta.version`),
      200,
    );
    expect(only).toEqual({
      schemas: [URN_USER],
      id: user.id,
      userName: user.userName,
      emails: [{ value: (user.emails as { value: string }[])[0]?.value }],
      meta: { version: user.meta.version },
    });
    const without = await scimBody<Doc>(
      await scim(
        tenant.scim,
        "GET",
        `/Users/${user.id}?excludedAttributes=emails,meta,urn:ietf:params:scim:schemas:core:2.0:User:name`,
      ),
      200,
    );
    expect(Object.keys(without).sort()).toEqual(["active", "displayName", "id", "schemas", "userName"]);
    expect((await scim(tenant.scim, "DELETE", `/Users/${user.id}`)).status).toBe(204);
    await expectScimError(await scim(tenant.scim, "GET", `/Users/${user.id}`), 404);
    await expectScimError(await scim(tenant.scim, "DELETE", `/Users/${user.id}`), 404);
  });
});

describe("GET /scim/v2/Users (list)", () => {
  let listTenant: ScimTenant;
  const made: Doc[] = [];
  beforeAll(async () => {
    listTenant = await createScimTenant("SCIM list");
    for (const [i, name] of ["carol", "alice", "bob", "dave"].entries()) {
      made.push(
        await createScimUser(listTenant.scim, {
          userName: name,
          externalId: `ext-${name}`,
          emails: [{ value: `${name}@corp.example`, primary: true }],
          active: i !== 3,
          name: { formatted: `${name[0]?.toUpperCase()}${name.slice(1)} Example` },
        }),
      );
    }
  });

  async function list(query: string) {
    return scimBody<{
      schemas: string[];
      totalResults: number;
      startIndex: number;
      itemsPerPage: number;
      Resources: Doc[];
    }>(await scim(listTenant.scim, "GET", `/Users?${query}`), 200);
  }
  const names = (page: { Resources: Doc[] }) => page.Resources.map((u) => u.userName);

  it("is a ListResponse of valid Users, sorted and paged by startIndex and count", async () => {
    const all = await list("sortBy=userName");
    expect(all).toMatchObject({ schemas: [URN_LIST], totalResults: 4, startIndex: 1, itemsPerPage: 4 });
    for (const user of all.Resources) expectValidResource(user, "User");
    expect(names(all)).toEqual(["alice", "bob", "carol", "dave"]);
    expect(names(await list("sortBy=userName&sortOrder=descending&startIndex=2&count=2"))).toEqual(["carol", "bob"]);
    const beyond = await list("startIndex=10");
    expect(beyond).toMatchObject({ totalResults: 4, itemsPerPage: 0, Resources: [] });
    expect(await list("count=0")).toMatchObject({ totalResults: 4, itemsPerPage: 0 });
    expect(names(await list("sortBy=meta.created"))).toEqual(["carol", "alice", "bob", "dave"]);
    expect((await list("count=100000")).itemsPerPage).toBe(4);
    await expectScimError(await scim(listTenant.scim, "GET", "/Users?sortBy=nickName"), 400, "invalidValue");
  });

  it("filters the way Okta and Entra ID look users up, and more", async () => {
    expect(names(await list(`filter=${encodeURIComponent('userName eq "Alice"')}`))).toEqual(["alice"]);
    expect(names(await list(`filter=${encodeURIComponent('externalId eq "ext-bob"')}`))).toEqual(["bob"]);
    expect(names(await list(`filter=${encodeURIComponent('emails eq "CAROL@corp.example"')}`))).toEqual(["carol"]);
    expect(
      names(await list(`filter=${encodeURIComponent('emails[type eq "work" and value eq "bob@corp.example"]')}`)),
    ).toEqual(["bob"]);
    expect(names(await list(`filter=${encodeURIComponent('emails[type eq "home"]')}`))).toEqual([]);
    expect(names(await list(`filter=${encodeURIComponent("active eq false")}`))).toEqual(["dave"]);
    expect(names(await list(`filter=${encodeURIComponent('active eq true and name.formatted sw "b"')}`))).toEqual([
      "bob",
    ]);
    expect(
      names(
        await list(
          `filter=${encodeURIComponent('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "c" or displayName co "ave"')}&sortBy=userName`,
        ),
      ),
    ).toEqual(["carol", "dave"]);
    expect(
      names(
        await list(
          `filter=${encodeURIComponent('meta.created gt "2020-01-01T00:00:00Z" and not (userName eq "alice")')}&sortBy=userName`,
        ),
      ),
    ).toEqual(["bob", "carol", "dave"]);
    expect(names(await list(`filter=${encodeURIComponent(`id eq "${made[0]?.id}"`)}`))).toEqual(["carol"]);
  });

  it("answers invalidFilter for a malformed filter or an attribute it cannot filter on", async () => {
    for (const filter of [
      'userName eq "a" and',
      "nickName pr",
      'name.givenName eq "x"',
      'addresses[type eq "work"]',
      'emails co "co"', // part-of-email search needs three characters
      "active eq 1",
      'urn:example:foo:bar eq "x"',
    ]) {
      await expectScimError(
        await scim(listTenant.scim, "GET", `/Users?filter=${encodeURIComponent(filter)}`),
        400,
        "invalidFilter",
      );
    }
  });
});
