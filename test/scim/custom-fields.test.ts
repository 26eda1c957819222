import { beforeAll, describe, expect, it } from "vitest";
import { call, json } from "../helpers/api";
import { defineField } from "../schema/support";
import {
  createScimTenant,
  type Doc,
  expectScimError,
  type ScimTenant,
  scim,
  scimBody,
  URN_PATCH,
  URN_USER,
} from "./support";

const URN_EXTENSION = "urn:ietf:params:scim:schemas:extension:uom:2.0:User";
let tenant: ScimTenant;

beforeAll(async () => {
  tenant = await createScimTenant("SCIM custom fields");
  await defineField(tenant, { name: "department", type: "enum", enum: ["sales", "support"], filterable: true });
  await defineField(tenant, { name: "seats", type: "integer", min: 1 });
  await defineField(tenant, { name: "taxId", type: "string", pii: true });
});

describe("the tenant's custom fields as the SCIM extension schema", () => {
  it("describes the live fields in /Schemas, leaving out restricted ones", async () => {
    const doc = await scimBody<{ attributes: { name: string; type: string }[] }>(
      await scim(tenant.scim, "GET", `/Schemas/${URN_EXTENSION}`),
      200,
    );
    expect(doc.attributes.map((a) => [a.name, a.type])).toEqual([
      ["department", "string"],
      ["seats", "integer"],
    ]);
  });

  it("writes, reads, patches and filters extension values through the users service's validation", async () => {
    const created = await scimBody<Doc>(
      await scim(tenant.scim, "POST", "/Users", {
        schemas: [URN_USER, URN_EXTENSION],
        userName: "okta.user",
        emails: [{ value: "okta.user@corp.example", primary: true }],
        [URN_EXTENSION]: { department: "sales", seats: 3 },
      }),
      201,
    );
    expect(created[URN_EXTENSION]).toEqual({ department: "sales", seats: 3 });
    const user = await json<{ attributes: Record<string, unknown> }>(
      await call("GET", `/v1/users/${created.id}`, { token: tenant.key }),
    );
    expect(user.attributes).toEqual({ department: "sales", seats: 3 });
    const refused = await scim(tenant.scim, "PATCH", `/Users/${created.id}`, {
      schemas: [URN_PATCH],
      Operations: [{ op: "replace", path: `${URN_EXTENSION}:seats`, value: 0 }],
    });
    await expectScimError(refused, 400, "invalidValue");
    const patched = await scimBody<Doc>(
      await scim(tenant.scim, "PATCH", `/Users/${created.id}`, {
        schemas: [URN_PATCH],
        Operations: [{ op: "replace", path: `${URN_EXTENSION}:department`, value: "support" }],
      }),
      200,
    );
    expect(patched[URN_EXTENSION]).toEqual({ department: "support", seats: 3 });
    const list = await scimBody<{ totalResults: number; Resources: Doc[] }>(
      await scim(tenant.scim, "GET", `/Users?filter=${encodeURIComponent(`${URN_EXTENSION}:department eq "support"`)}`),
      200,
    );
    expect(list.Resources.map((r) => r.id)).toEqual([created.id]);
  });
});
