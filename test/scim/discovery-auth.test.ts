import SCIMMY from "scimmy";
import { beforeAll, describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import { createScimTenant, expectScimError, type ScimTenant, scim, scimBody, URN_LIST, URN_USER } from "./support";

let tenant: ScimTenant;

beforeAll(async () => {
  tenant = await createScimTenant("SCIM discovery");
});

type Attribute = { name: string; type: string; multiValued: boolean; mutability: string; subAttributes?: Attribute[] };

describe("discovery (RFC 7644 §4)", () => {
  it("ServiceProviderConfig advertises what is enforced, and scimmy's definition accepts it", async () => {
    const config = await scimBody<Record<string, unknown>>(
      await scim(tenant.scim, "GET", "/ServiceProviderConfig"),
      200,
    );
    expect(config).toMatchObject({
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 100, maxPayloadSize: 1048576 },
      filter: { supported: true, maxResults: 200 },
      sort: { supported: true },
      etag: { supported: true },
    });
    const { schemas, ...rest } = config;
    expect(() => SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(rest, "out")).not.toThrow();
  });

  it("Schemas lists User, Group and the custom-fields extension; each User attribute agrees with RFC 7643 as scimmy has it", async () => {
    const page = await scimBody<{
      schemas: string[];
      totalResults: number;
      Resources: { id: string; attributes: Attribute[] }[];
    }>(await scim(tenant.scim, "GET", "/Schemas"), 200);
    expect(page.schemas).toEqual([URN_LIST]);
    expect(page.Resources.map((s) => s.id)).toEqual([
      URN_USER,
      "urn:ietf:params:scim:schemas:core:2.0:Group",
      "urn:ietf:params:scim:schemas:extension:uom:2.0:User",
    ]);
    // describe() holds Attribute instances; their JSON is the RFC 7643 §7 attribute definition
    const reference = JSON.parse(JSON.stringify(SCIMMY.Schemas.User.definition.describe())) as {
      attributes: Attribute[];
    };
    const user = page.Resources[0] as { attributes: Attribute[] };
    for (const ours of user.attributes) {
      const theirs = reference.attributes.find((a) => a.name === ours.name);
      expect(theirs, ours.name).toBeDefined();
      expect([ours.type, ours.multiValued], ours.name).toEqual([theirs?.type, theirs?.multiValued]);
      for (const sub of ours.subAttributes ?? []) {
        const theirSub = theirs?.subAttributes?.find((a) => a.name === sub.name);
        expect(theirSub, `${ours.name}.${sub.name}`).toBeDefined();
        expect(sub.type).toBe(theirSub?.type);
      }
    }
    const one = await scimBody<{ id: string }>(await scim(tenant.scim, "GET", `/Schemas/${URN_USER}`), 200);
    expect(one.id).toBe(URN_USER);
    await expectScimError(await scim(tenant.scim, "GET", "/Schemas/urn:nope"), 404);
  });

  it("ResourceTypes lists User (with the extension) and Group", async () => {
    const page = await scimBody<{ Resources: { id: string; endpoint: string; schemaExtensions?: unknown[] }[] }>(
      await scim(tenant.scim, "GET", "/ResourceTypes"),
      200,
    );
    expect(page.Resources.map((r) => [r.id, r.endpoint])).toEqual([
      ["User", "/Users"],
      ["Group", "/Groups"],
    ]);
    expect((await scimBody<{ id: string }>(await scim(tenant.scim, "GET", "/ResourceTypes/Group"), 200)).id).toBe(
      "Group",
    );
    await expectScimError(await scim(tenant.scim, "GET", "/ResourceTypes/Device"), 404);
  });
});

describe("authentication and errors", () => {
  it("no key → 401 SCIM error with a Bearer challenge; a key without the scim role → 403; the admin token → 403", async () => {
    const anonymous = await scim(null, "GET", "/Users");
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectScimError(anonymous, 401);
    await expectScimError(await scim("uom_sk_nonsense", "GET", "/ServiceProviderConfig"), 401);
    const created = await call("POST", "/v1/api-keys", {
      token: tenant.key,
      body: { name: "Users only", roles: ["manager"] },
    });
    const manager = (await json<{ secret: string }>(created)).secret;
    await expectScimError(await scim(manager, "GET", "/Users"), 403);
    await expectScimError(await scim(manager, "POST", "/Users", { schemas: [URN_USER], userName: "nope" }), 403);
    await expectScimError(await scim("test-admin-token-0123456789abcdef", "GET", "/Users"), 403);
  });

  it("a scim key cannot read the audit trail or mint keys (the role is scoped to provisioning)", async () => {
    expect((await call("GET", "/v1/audit-events", { token: tenant.scim })).status).toBe(403);
    expect(
      (await call("POST", "/v1/api-keys", { token: tenant.scim, body: { name: "x", roles: ["scim"] } })).status,
    ).toBe(403);
  });

  it("unknown SCIM paths and methods answer SCIM errors too; other media types are 415", async () => {
    await expectScimError(await scim(tenant.scim, "GET", "/Devices"), 404);
    await expectScimError(await scim(tenant.scim, "DELETE", "/Schemas"), 405);
    const text = await call("POST", "/scim/v2/Users", {
      token: tenant.scim,
      rawBody: "userName=x",
      headers: { "content-type": "text/plain" },
    });
    await expectScimError(text, 415);
  });
});
