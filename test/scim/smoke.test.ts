import { beforeAll, describe, expect, it } from "vitest";
import { createScimTenant, createScimUser, expectValidResource, type ScimTenant, scim, scimBody } from "./support";

let tenant: ScimTenant;
beforeAll(async () => {
  tenant = await createScimTenant("SCIM smoke");
});

describe("smoke", () => {
  it("creates and reads", async () => {
    const user = await createScimUser(tenant.scim);
    expectValidResource(user, "User");
    const read = await scimBody(await scim(tenant.scim, "GET", `/Users/${user.id}`), 200);
    expect(read).toEqual(user);
  });
});
