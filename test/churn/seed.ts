import { expect } from "vitest";
import { type DemoUser, generateDemo } from "../../scripts/demo-data.mjs";
import { call, json, type TestTenant } from "../helpers/api";

export interface SeededUser extends DemoUser {
  id: string;
}

/**
 * Seeds a tenant with the demo generator through the API, as `npm run seed:demo` does: users by POST /v1/users/bulk,
 * their history by POST /v1/activity with past `occurredAt`, 1,000 a request.
 */
export async function seedDemo(
  tenant: TestTenant,
  options: { users: number; days: number; seed?: number },
): Promise<SeededUser[]> {
  const demo = generateDemo({ ...options, prefix: `t${tenant.id.slice(-6)}` });
  const seeded: SeededUser[] = [];
  for (let i = 0; i < demo.users.length; i += 1000) {
    const chunk = demo.users.slice(i, i + 1000);
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: chunk.map((u) => ({ op: "create", data: { email: u.email, externalId: u.externalId } })),
      },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: { status: number; id: string }[] }>(response);
    results.forEach((result, j) => {
      expect(result.status).toBe(201);
      seeded.push({ ...(chunk[j] as DemoUser), id: result.id });
    });
  }
  for (let i = 0; i < demo.events.length; i += 1000) {
    const response = await call("POST", "/v1/activity", {
      token: tenant.key,
      body: { events: demo.events.slice(i, i + 1000) },
    });
    expect(response.status).toBe(200);
  }
  return seeded;
}
