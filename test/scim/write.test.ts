import { beforeAll, describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import {
  createScimTenant,
  createScimUser,
  type Doc,
  expectScimError,
  expectValidResource,
  newUser,
  patchOp,
  type ScimTenant,
  scim,
  scimBody,
  URN_USER,
} from "./support";

let tenant: ScimTenant;

beforeAll(async () => {
  tenant = await createScimTenant("SCIM writes");
});

async function v1User(id: string) {
  return json(await call("GET", `/v1/users/${id}`, { token: tenant.key }));
}

describe("PUT /scim/v2/Users/{id}", () => {
  it("replaces the user: what it leaves out is unassigned, read-only attributes are ignored", async () => {
    const user = await createScimUser(tenant.scim, { externalId: "put-1", phoneNumbers: [{ value: "+14155550100" }] });
    const response = await scim(tenant.scim, "PUT", `/Users/${user.id}`, {
      schemas: [URN_USER],
      id: "usr_other",
      userName: user.userName,
      emails: [{ value: "replaced@example.com", primary: true }, { value: "second@example.com" }],
      name: { formatted: "Replaced Name" },
      active: false,
    });
    const replaced = await scimBody<Doc>(response, 200);
    expectValidResource(replaced, "User");
    expect(replaced.id).toBe(user.id);
    expect(replaced).toMatchObject({
      emails: [{ value: "replaced@example.com" }],
      active: false,
      name: { formatted: "Replaced Name" },
    });
    expect(replaced).not.toHaveProperty("phoneNumbers");
    expect(replaced).not.toHaveProperty("externalId");
    expect(replaced.meta.version).not.toBe(user.meta.version);
    expect(await v1User(user.id)).toMatchObject({
      email: "replaced@example.com",
      phone: null,
      externalId: null,
      status: "disabled",
    });
  });

  it("honours If-Match: a stale version is 412 and changes nothing", async () => {
    const user = await createScimUser(tenant.scim);
    const stale = await scim(
      tenant.scim,
      "PUT",
      `/Users/${user.id}`,
      { ...newUser(), userName: user.userName },
      { "if-match": '"v99"' },
    );
    await expectScimError(stale, 412);
    await expectScimError(
      await scim(tenant.scim, "PATCH", `/Users/${user.id}`, patchOp({ op: "replace", path: "active", value: false }), {
        "if-match": '"v99"',
      }),
      412,
    );
    await expectScimError(
      await scim(tenant.scim, "DELETE", `/Users/${user.id}`, undefined, { "if-match": '"v99"' }),
      412,
    );
    expect(await scimBody(await scim(tenant.scim, "GET", `/Users/${user.id}`), 200)).toEqual(user);
    const fresh = await scim(
      tenant.scim,
      "PATCH",
      `/Users/${user.id}`,
      patchOp({ op: "replace", path: "active", value: false }),
      { "if-match": user.meta.version },
    );
    expect((await scimBody<Doc>(fresh, 200)).active).toBe(false);
  });
});

describe("PATCH /scim/v2/Users/{id}", () => {
  it("replace, add and remove, with and without paths, value filters and sub-attributes; op names in any case", async () => {
    const user = await createScimUser(tenant.scim);
    const patched = await scimBody<Doc>(
      await scim(
        tenant.scim,
        "PATCH",
        `/Users/${user.id}`,
        patchOp(
          { op: "Replace", path: 'emails[type eq "work"].value', value: "patched@example.com" },
          { op: "add", path: "phoneNumbers", value: [{ value: "+14155550199", type: "work" }] },
          { op: "replace", path: "name.formatted", value: "Augusta King" },
          { op: "REPLACE", value: { externalId: "patched-ext", active: false } },
        ),
      ),
      200,
    );
    expectValidResource(patched, "User");
    expect(patched).toMatchObject({
      emails: [{ value: "patched@example.com" }],
      phoneNumbers: [{ value: "+14155550199" }],
      name: { formatted: "Augusta King" },
      externalId: "patched-ext",
      active: false,
    });
    const removed = await scimBody<Doc>(
      await scim(
        tenant.scim,
        "PATCH",
        `/Users/${user.id}`,
        patchOp(
          { op: "remove", path: 'phoneNumbers[value eq "+14155550199"]' },
          { op: "remove", path: "externalId" },
          { op: "replace", path: "displayName", value: "Countess of Lovelace" },
        ),
      ),
      200,
    );
    expect(removed).not.toHaveProperty("phoneNumbers");
    expect(removed).not.toHaveProperty("externalId");
    expect(removed).toMatchObject({ displayName: "Countess of Lovelace", name: { formatted: "Countess of Lovelace" } });
    expect(await v1User(user.id)).toMatchObject({
      email: "patched@example.com",
      phone: null,
      name: "Countess of Lovelace",
      status: "disabled",
    });
  });

  it("refuses bad operations with the RFC's scimType, changing nothing", async () => {
    const user = await createScimUser(tenant.scim);
    const cases: [Record<string, unknown>, string][] = [
      [{ op: "replace", path: "id", value: "usr_x" }, "mutability"],
      [{ op: "add", path: "groups", value: [{ value: "admin" }] }, "mutability"],
      [{ op: "replace", path: "nickNamez", value: "x" }, "invalidPath"],
      [{ op: "replace", path: "emails[type eq ]", value: "x" }, "invalidPath"],
      [{ op: "replace", path: 'phoneNumbers[type eq "mobile"].value', value: "+14155550111" }, "noTarget"],
      [{ op: "remove" }, "noTarget"],
      [{ op: "replace", path: "active", value: "False" }, "invalidValue"],
      [{ op: "replace", value: { "name.givenName": "Ada" } }, "invalidPath"],
      [
        { op: "replace", value: { "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D" } },
        "invalidPath",
      ],
      [{ op: "replace", path: 'emails[type eq "work"].value', value: "not an email" }, "invalidValue"],
      [{ op: "move", path: "active", value: true }, "invalidSyntax"],
    ];
    for (const [operation, scimType] of cases) {
      await expectScimError(await scim(tenant.scim, "PATCH", `/Users/${user.id}`, patchOp(operation)), 400, scimType);
    }
    await expectScimError(
      await scim(tenant.scim, "PATCH", `/Users/${user.id}`, { Operations: [] }),
      400,
      "invalidSyntax",
    );
    expect(await scimBody(await scim(tenant.scim, "GET", `/Users/${user.id}`), 200)).toEqual(user);
  });

  it("in lenient mode accepts Entra ID's requests, and refuses them again when it is off", async () => {
    const lenient = await createScimTenant("SCIM lenient");
    const policy = await call("PUT", "/v1/security-policy", { token: lenient.key, body: { scim: { lenient: true } } });
    expect(policy.status).toBe(200);
    const entra = await scimBody<Doc>(
      await scim(
        lenient.scim,
        "POST",
        "/Users",
        newUser({
          active: "True",
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "R&D" },
        }),
      ),
      201,
    );
    expect(entra.active).toBe(true);
    const patched = await scimBody<Doc>(
      await scim(
        lenient.scim,
        "PATCH",
        `/Users/${entra.id}`,
        patchOp(
          { op: "Replace", path: "active", value: "False" },
          { op: "Add", path: 'phoneNumbers[type eq "mobile"].value', value: "+14155550142" },
          {
            op: "Replace",
            value: {
              "name.formatted": "Entra Person",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            },
          },
        ),
      ),
      200,
    );
    expect(patched).toMatchObject({
      active: false,
      phoneNumbers: [{ value: "+14155550142" }],
      name: { formatted: "Entra Person" },
    });
    const filtered = await scimBody<{ totalResults: number }>(
      await scim(lenient.scim, "GET", `/Users?filter=${encodeURIComponent('active eq "False"')}`),
      200,
    );
    expect(filtered.totalResults).toBe(1);

    const off = await call("PUT", "/v1/security-policy", { token: lenient.key, body: { scim: { lenient: false } } });
    expect(off.status).toBe(200);
    await expectScimError(
      await scim(
        lenient.scim,
        "PATCH",
        `/Users/${entra.id}`,
        patchOp({ op: "Replace", path: "active", value: "True" }),
      ),
      400,
      "invalidValue",
    );
  });

  it("is audited like a /v1/users change: the SCIM key is the actor, the request id is recorded", async () => {
    const user = await createScimUser(tenant.scim);
    const response = await scim(
      tenant.scim,
      "PATCH",
      `/Users/${user.id}`,
      patchOp({ op: "replace", path: "active", value: false }),
    );
    expect(response.status).toBe(200);
    const events = await json<{
      data: { action: string; actor: { type: string }; requestId: string; changes: Record<string, unknown> }[];
    }>(await call("GET", `/v1/audit-events?resourceId=${user.id}`, { token: tenant.key }));
    expect(events.data.map((e) => e.action).sort()).toEqual(["user.created", "user.updated"]);
    const updated = events.data.find((e) => e.action === "user.updated");
    expect(updated).toMatchObject({
      actor: { type: "api_key" },
      requestId: response.headers.get("x-request-id"),
      changes: { status: { from: "active", to: "disabled" } },
    });
    expect((await scim(tenant.scim, "DELETE", `/Users/${user.id}`)).status).toBe(204);
    const after = await json<{ data: { action: string }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}&action=user.deleted`, { token: tenant.key }),
    );
    expect(after.data).toHaveLength(1);
  });
});
