import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { type ApiUser, type BulkItem, bulk, snapshot } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users bulk limits" });
});

describe("POST /v1/users/bulk, limits and envelope", () => {
  it("1001 operations → 413 BULK_TOO_LARGE, nothing created", async () => {
    const before = await snapshot(tenant);
    const operations = Array.from({ length: 1001 }, () => ({ op: "create", data: { email: uniqueEmail("big") } }));
    await expectProblem(await bulk(tenant, { operations }), 413, "BULK_TOO_LARGE");
    expect(await snapshot(tenant)).toEqual(before);
  });

  it("more than 20 passwords in one request → 413, nothing created", async () => {
    const before = await snapshot(tenant);
    const operations = Array.from({ length: 21 }, () => ({
      op: "create",
      data: { email: uniqueEmail("pw"), password: "a long enough password" },
    }));
    await expectProblem(await bulk(tenant, { operations }), 413, "BULK_TOO_LARGE");
    expect(await snapshot(tenant)).toEqual(before);
  });

  it("a bad envelope → 400 and nothing changed", async () => {
    const before = await snapshot(tenant);
    await expectProblem(await bulk(tenant, { operations: [] }), 400, "VALIDATION_FAILED");
    await expectProblem(await bulk(tenant, {}), 400, "VALIDATION_FAILED");
    const unknown = await expectProblem(
      await bulk(tenant, { operations: [{ op: "create", data: { email: uniqueEmail() } }], dryRun: true }),
      400,
      "VALIDATION_FAILED",
    );
    expect(unknown.errors?.map((e) => e.field)).toContain("dryRun");
    await expectProblem(
      await bulk(tenant, { operations: [{ op: "create", data: { email: uniqueEmail() } }], atomic: "yes" }),
      400,
    );
    await expectProblem(
      await call("POST", "/v1/users/bulk", {
        token: tenant.key,
        rawBody: '{"operations": [',
        headers: { "content-type": "application/json" },
      }),
      400,
      "MALFORMED_JSON",
    );
    expect(await snapshot(tenant)).toEqual(before);
  });
});

describe("a large bulk", () => {
  it("1000 creates in one call → all 1000 created, each exactly once", async () => {
    const other = await createTenant({ name: "Users bulk 1000" });
    const emails = Array.from({ length: 1000 }, (_, i) => `big.${i}.${crypto.randomUUID().slice(0, 8)}@example.com`);
    const response = await call("POST", "/v1/users/bulk", {
      token: other.key,
      body: { operations: emails.map((email) => ({ op: "create", data: { email } })) },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: BulkItem[] }>(response);
    expect(results).toHaveLength(1000);
    expect(results.every((r, i) => r.index === i && r.status === 201)).toBe(true);
    const listed: ApiUser[] = [];
    let cursor: string | null = null;
    do {
      const response: Response = await call("GET", `/v1/users?limit=250${cursor ? `&cursor=${cursor}` : ""}`, {
        token: other.key,
      });
      expect(response.status).toBe(200);
      const page = await json<{ data: ApiUser[]; nextCursor: string | null }>(response);
      listed.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(listed.map((u) => u.email).sort()).toEqual([...emails].sort());
    expect(listed.map((u) => u.id)).toEqual(results.map((r) => r.id));
  });
});
