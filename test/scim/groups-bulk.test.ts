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
  URN_GROUP,
  uniqueName,
} from "./support";

const URN_BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
let tenant: ScimTenant;

beforeAll(async () => {
  tenant = await createScimTenant("SCIM groups");
});

async function rolesOf(id: string): Promise<string[]> {
  return (await json<{ roles: string[] }>(await call("GET", `/v1/users/${id}`, { token: tenant.key }))).roles;
}

type Group = Doc & { displayName: string; members?: { value: string }[] };

describe("/scim/v2/Groups", () => {
  it("lists the built-in roles as groups, finds one by displayName, spares members when asked", async () => {
    const page = await scimBody<{ totalResults: number; Resources: Group[] }>(
      await scim(tenant.scim, "GET", "/Groups?excludedAttributes=members"),
      200,
    );
    expect(page.Resources.map((g) => g.id)).toEqual(expect.arrayContaining(["admin", "basic", "manager", "scim"]));
    for (const group of page.Resources) {
      expectValidResource(group, "Group");
      expect(group).not.toHaveProperty("members");
    }
    const found = await scimBody<{ Resources: Group[] }>(
      await scim(tenant.scim, "GET", `/Groups?filter=${encodeURIComponent('displayName eq "MANAGER"')}`),
      200,
    );
    expect(found.Resources.map((g) => g.id)).toEqual(["manager"]);
  });

  it("creates a group with members (the users get the role), adds and removes members by PATCH, and deletes it", async () => {
    const [ada, alan] = [await createScimUser(tenant.scim), await createScimUser(tenant.scim)];
    const displayName = `Sales Team ${uniqueName("")}`;
    const response = await scim(tenant.scim, "POST", "/Groups", {
      schemas: [URN_GROUP],
      displayName,
      externalId: "grp-1",
      members: [{ value: ada.id }],
    });
    const group = await scimBody<Group>(response, 201);
    expectValidResource(group, "Group");
    expect(group.id).toMatch(/^sales-team-/);
    expect(group).toMatchObject({ displayName, externalId: "grp-1", members: [{ value: ada.id, type: "User" }] });
    expect(response.headers.get("etag")).toBe(group.meta.version);
    expect(await rolesOf(ada.id)).toEqual([group.id]);
    const asUser = await scimBody<Doc>(await scim(tenant.scim, "GET", `/Users/${ada.id}`), 200);
    expect(asUser.groups).toEqual([
      { value: group.id, $ref: `http://uom.test/scim/v2/Groups/${group.id}`, display: group.id },
    ]);

    await expectScimError(
      await scim(tenant.scim, "POST", "/Groups", { schemas: [URN_GROUP], displayName: displayName.toLowerCase() }),
      409,
      "uniqueness",
    );

    const added = await scimBody<Group>(
      await scim(
        tenant.scim,
        "PATCH",
        `/Groups/${group.id}`,
        patchOp({ op: "add", path: "members", value: [{ value: alan.id }] }),
      ),
      200,
    );
    expect(added.members?.map((m) => m.value).sort()).toEqual([ada.id, alan.id].sort());
    const removed = await scimBody<Group>(
      await scim(
        tenant.scim,
        "PATCH",
        `/Groups/${group.id}`,
        patchOp(
          { op: "remove", path: `members[value eq "${ada.id}"]` },
          { op: "replace", path: "displayName", value: `${displayName} EU` },
        ),
      ),
      200,
    );
    expect(removed.members?.map((m) => m.value)).toEqual([alan.id]);
    expect(removed.displayName).toBe(`${displayName} EU`);
    expect(await rolesOf(ada.id)).toEqual([]);
    expect(await rolesOf(alan.id)).toEqual([group.id]);

    const stale = await scim(tenant.scim, "PATCH", `/Groups/${group.id}`, patchOp({ op: "remove", path: "members" }), {
      "if-match": group.meta.version,
    });
    await expectScimError(stale, 412);
    expect((await scim(tenant.scim, "DELETE", `/Groups/${group.id}`)).status).toBe(204);
    expect(await rolesOf(alan.id)).toEqual([]);
    await expectScimError(await scim(tenant.scim, "GET", `/Groups/${group.id}`), 404);
  });

  it("refuses what the SCIM key may not do, or what cannot be: nothing changes", async () => {
    const user = await createScimUser(tenant.scim);
    // the scim role lacks audit:read, which manager grants: a provisioning key cannot hand out more than it holds
    await expectScimError(
      await scim(
        tenant.scim,
        "PATCH",
        "/Groups/manager",
        patchOp({ op: "add", path: "members", value: [{ value: user.id }] }),
      ),
      403,
    );
    await expectScimError(
      await scim(tenant.scim, "PATCH", "/Groups/admin", patchOp({ op: "replace", path: "displayName", value: "Root" })),
      400,
      "mutability",
    );
    await expectScimError(await scim(tenant.scim, "DELETE", "/Groups/basic"), 400, "mutability");
    await expectScimError(
      await scim(tenant.scim, "POST", "/Groups", {
        schemas: [URN_GROUP],
        displayName: "Ghosts",
        members: [{ value: "usr_nobody" }],
      }),
      400,
      "invalidValue",
    );
    await expectScimError(
      await scim(
        tenant.scim,
        "PATCH",
        "/Groups/basic",
        patchOp({ op: "remove", path: "members", value: [{ value: user.id }] }),
      ),
      400,
      "invalidValue",
    );
    expect(await rolesOf(user.id)).toEqual([]);
    const ghosts = await scimBody<{ totalResults: number }>(
      await scim(tenant.scim, "GET", `/Groups?filter=${encodeURIComponent('displayName eq "Ghosts"')}`),
      200,
    );
    expect(ghosts.totalResults).toBe(0);
    // the basic role grants nothing, so the key may hand it out
    const basic = await scimBody<Group>(
      await scim(
        tenant.scim,
        "PATCH",
        "/Groups/basic",
        patchOp({ op: "add", path: "members", value: [{ value: user.id }] }),
      ),
      200,
    );
    expect(basic.members?.map((m) => m.value)).toContain(user.id);
  });
});

describe("/scim/v2/Bulk", () => {
  it("runs operations with bulkId references (even forward ones) and reports each one's status, location and version", async () => {
    const name = uniqueName("bulk");
    const response = await scim(tenant.scim, "POST", "/Bulk", {
      schemas: [URN_BULK],
      Operations: [
        {
          method: "POST",
          path: "/Groups",
          bulkId: "g",
          data: { schemas: [URN_GROUP], displayName: `Group ${name}`, members: [{ value: "bulkId:u" }] },
        },
        { method: "POST", path: "/Users", bulkId: "u", data: newUser({ userName: name }) },
        { method: "PATCH", path: "/Users/bulkId:u", data: patchOp({ op: "replace", path: "active", value: false }) },
        { method: "DELETE", path: "/Users/usr_missing" },
      ],
    });
    const body = await scimBody<{
      schemas: string[];
      Operations: {
        method: string;
        bulkId?: string;
        status: string;
        location?: string;
        version?: string;
        response?: { scimType?: string };
      }[];
    }>(response, 200);
    expect(body.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]);
    expect(body.Operations.map((o) => [o.method, o.status])).toEqual([
      ["POST", "201"],
      ["POST", "201"],
      ["PATCH", "200"],
      ["DELETE", "404"],
    ]);
    const userId = body.Operations[1]?.location?.split("/").at(-1) as string;
    const groupId = body.Operations[0]?.location?.split("/").at(-1) as string;
    expect(await rolesOf(userId)).toEqual([groupId]);
    const user = await scimBody<Doc>(await scim(tenant.scim, "GET", `/Users/${userId}`), 200);
    expect(user.active).toBe(false);
    // the PATCH ran as soon as its reference resolved (v2); the group waited for the user, then added it (v3)
    expect(body.Operations[2]?.version).toBe('"v2"');
    expect(user.meta.version).toBe('"v3"');
  });

  it("stops after failOnErrors errors, and answers 409 for circular or failed references", async () => {
    const stopped = await scimBody<{ Operations: { status: string }[] }>(
      await scim(tenant.scim, "POST", "/Bulk", {
        schemas: [URN_BULK],
        failOnErrors: 1,
        Operations: [
          { method: "POST", path: "/Users", data: newUser({ userName: "x" }) },
          { method: "POST", path: "/Users", data: newUser() },
        ],
      }),
      200,
    );
    expect(stopped.Operations.map((o) => o.status)).toEqual(["400"]);
    const circular = await scimBody<{ Operations: { bulkId?: string; status: string }[] }>(
      await scim(tenant.scim, "POST", "/Bulk", {
        schemas: [URN_BULK],
        Operations: [
          {
            method: "POST",
            path: "/Groups",
            bulkId: "a",
            data: { schemas: [URN_GROUP], displayName: uniqueName("A"), members: [{ value: "bulkId:b" }] },
          },
          {
            method: "POST",
            path: "/Groups",
            bulkId: "b",
            data: { schemas: [URN_GROUP], displayName: uniqueName("B"), members: [{ value: "bulkId:a" }] },
          },
          { method: "POST", path: "/Users", bulkId: "bad", data: newUser({ emails: [{ value: "nope" }] }) },
          {
            method: "PATCH",
            path: "/Users/bulkId:bad",
            data: patchOp({ op: "replace", path: "active", value: false }),
          },
        ],
      }),
      200,
    );
    expect(circular.Operations.map((o) => o.status)).toEqual(["409", "409", "400", "409"]);
  });

  it("enforces maxOperations and maxPayloadSize with 413, running nothing", async () => {
    const before = await scimBody<{ totalResults: number }>(await scim(tenant.scim, "GET", "/Users?count=0"), 200);
    const many = Array.from({ length: 101 }, () => ({ method: "POST", path: "/Users", data: newUser() }));
    await expectScimError(await scim(tenant.scim, "POST", "/Bulk", { schemas: [URN_BULK], Operations: many }), 413);
    const big = [{ method: "POST", path: "/Users", data: newUser({ displayName: "x".repeat(1024 * 1024) }) }];
    await expectScimError(await scim(tenant.scim, "POST", "/Bulk", { schemas: [URN_BULK], Operations: big }), 413);
    const after = await scimBody<{ totalResults: number }>(await scim(tenant.scim, "GET", "/Users?count=0"), 200);
    expect(after.totalResults).toBe(before.totalResults);
  });
});
