import { beforeAll, describe, expect, it } from "vitest";
import { createTenant, createUser, expectProblem, type TestTenant, uniqueEmail } from "../helpers/api";
import { auditOf, bulk, bulkOk, snapshot } from "./support";

// Create-only bulk requests read nothing first: a taken email or username is refused by the unique index at
// commit and only then looked up. These tests pin that path's answers to the ones the prefetching path gives.

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Bulk creates" });
});

describe("create-only bulk", () => {
  it("non-atomic: items taking a stored email or username fail alone with the precise 409", async () => {
    const holder = await createUser(tenant, { username: `holder_${crypto.randomUUID().slice(0, 8)}` });
    const fresh = [uniqueEmail("fresh"), uniqueEmail("fresh")];
    const results = await bulkOk(tenant, {
      operations: [
        { op: "create", data: { email: fresh[0] } },
        { op: "create", data: { email: String(holder.email).toUpperCase() } },
        { op: "create", data: { email: uniqueEmail("other"), username: String(holder.username).toUpperCase() } },
        { op: "create", data: { email: fresh[1] } },
      ],
    });
    expect(results.map((r) => [r.index, r.status, r.error?.code])).toEqual([
      [0, 201, undefined],
      [1, 409, "EMAIL_TAKEN"],
      [2, 409, "USERNAME_TAKEN"],
      [3, 201, undefined],
    ]);
    const emails = (await snapshot(tenant)).map((u) => u.email);
    expect(emails).toEqual(expect.arrayContaining(fresh));
    expect(emails.filter((e) => e.toLowerCase() === String(holder.email).toLowerCase())).toHaveLength(1);
    // only the created users have an audit event
    for (const r of results)
      if (r.id) expect((await auditOf(tenant, r.id)).map((e) => e.action)).toEqual(["user.created"]);
  });

  it("atomic: a stored email → 422 listing that item, nothing committed", async () => {
    const holder = await createUser(tenant);
    const before = await snapshot(tenant);
    const problem = await expectProblem(
      await bulk(tenant, {
        atomic: true,
        operations: [
          { op: "create", data: { email: uniqueEmail("atomic") } },
          { op: "create", data: { email: holder.email } },
          { op: "create", data: { email: uniqueEmail("atomic") } },
        ],
      }),
      422,
      "BULK_ATOMIC_FAILED",
    );
    expect(problem.errors?.map((e) => [e.index, e.code])).toEqual([[1, "EMAIL_TAKEN"]]);
    expect(await snapshot(tenant)).toEqual(before);
  });

  it("a duplicate inside the request is caught before anything is written", async () => {
    const email = uniqueEmail("twice");
    const results = await bulkOk(tenant, {
      operations: [
        { op: "create", data: { email } },
        { op: "create", data: { email: email.toUpperCase() } },
      ],
    });
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [201, undefined],
      [409, "EMAIL_TAKEN"],
    ]);
  });
});
