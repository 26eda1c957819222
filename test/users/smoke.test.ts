import { describe, expect, it } from "vitest";
import { call, createTenant, createUser, json } from "../helpers/api";

describe("smoke", () => {
  it("creates a tenant and a user, and reads it back", async () => {
    const health = await call("GET", "/health");
    expect(health.status).toBe(200);
    const tenant = await createTenant();
    const user = await createUser(tenant, { name: "Ada" });
    const read = await call("GET", `/v1/users/${user.id}`, { token: tenant.key });
    expect(read.status).toBe(200);
    expect(await json(read)).toMatchObject({ id: user.id, name: "Ada", status: "active" });
  });
});
