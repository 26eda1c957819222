import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { type BulkItem, bulk, bulkOk, expectUserShape, readUser, snapshot } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users bulk" });
});

describe("POST /v1/users/bulk, non-atomic", () => {
  it("runs mixed operations with per-item results in request order; commits the valid ones", async () => {
    const toUpdate = await createUser(tenant, { attributes: { plan: "free", keep: 1 } });
    const toDelete = await createUser(tenant, { status: "disabled" });
    const toRestore = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${toRestore.id}`, { token: tenant.key })).status).toBe(200);
    const existing = await createUser(tenant);
    const fresh = uniqueEmail("fresh");

    const response = await bulk(tenant, {
      operations: [
        { op: "create", data: { email: fresh, name: "Fresh", attributes: { a: 1 } } },
        { op: "update", id: toUpdate.id, data: { attributes: { plan: "team", keep: null } } },
        { op: "delete", id: toDelete.id },
        { op: "restore", id: toRestore.id },
        { op: "create", data: { email: existing.email.toUpperCase() } },
        { op: "update", id: "usr_00000000000000000000000000", data: { name: "ghost" } },
        { op: "create", data: { email: "not an email" } },
        { op: "create", data: { email: fresh.toUpperCase() } },
        { op: "restore", id: existing.id },
        { op: "update", id: existing.id, data: { status: "deleted" } },
        { op: "teleport", id: existing.id },
      ],
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id");
    const { results } = await json<{ results: BulkItem[] }>(response);
    expect(results.map((r) => [r.index, r.status])).toEqual([
      [0, 201],
      [1, 200],
      [2, 200],
      [3, 200],
      [4, 409],
      [5, 404],
      [6, 400],
      [7, 409],
      [8, 409],
      [9, 400],
      [10, 400],
    ]);
    const codes = results.map((r) => r.error?.code ?? null);
    expect(codes).toEqual([
      null,
      null,
      null,
      null,
      "EMAIL_TAKEN",
      "USER_NOT_FOUND",
      "VALIDATION_FAILED",
      "EMAIL_TAKEN",
      "USER_NOT_DELETED",
      "VALIDATION_FAILED",
      "VALIDATION_FAILED",
    ]);
    for (const r of results.filter((r) => r.error)) {
      expect(r.error).toMatchObject({ status: r.status, requestId, type: expect.stringMatching(/^urn:uom:problem:/) });
      expect(r.id).toBeUndefined();
    }
    const fieldsOf = (i: number) =>
      ((results[i]?.error as { errors?: { field: string }[] } | undefined)?.errors ?? []).map((e) => e.field);
    expect(fieldsOf(6)).toContain("data.email");
    expect(fieldsOf(9)).toContain("data.status");
    expect(fieldsOf(10)).toContain("op");

    // the committed items, as they are now
    const created = results[0] as BulkItem;
    expect(created.id).toMatch(/^usr_/);
    const { user: createdUser } = await readUser(tenant, created.id as string);
    expectUserShape(createdUser as unknown as Record<string, unknown>);
    expect(createdUser).toMatchObject({ email: fresh, name: "Fresh", attributes: { a: 1 }, status: "active" });
    expect((await readUser(tenant, toUpdate.id)).user.attributes).toEqual({ plan: "team" });
    expect(results[1]?.id).toBe(toUpdate.id);
    const deleted = (await readUser(tenant, toDelete.id)).user;
    expect(deleted.status).toBe("deleted");
    expect(deleted.deletedAt).not.toBeNull();
    expect((await readUser(tenant, toRestore.id)).user.status).toBe("active");
    expect((await readUser(tenant, existing.id)).user.status).toBe("active");
    // and nothing else was created
    const all = await snapshot(tenant);
    expect(all.filter((u) => u.email.toLowerCase() === fresh.toLowerCase())).toHaveLength(1);
    expect(all.filter((u) => u.email.toLowerCase() === existing.email.toLowerCase())).toHaveLength(1);
  });

  it("operations on one user apply in order (update, delete, restore, delete, then update → 404)", async () => {
    const user = await createUser(tenant, { name: "Before" });
    const results = await bulkOk(tenant, {
      operations: [
        { op: "update", id: user.id, data: { name: "After" } },
        { op: "delete", id: user.id },
        { op: "restore", id: user.id },
        { op: "update", id: user.id, data: { attributes: { round: 2 } } },
        { op: "delete", id: user.id },
        { op: "update", id: user.id, data: { name: "Too late" } },
      ],
    });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 404]);
    expect(results.map((r) => r.id ?? null)).toEqual([user.id, user.id, user.id, user.id, user.id, null]);
    const { user: final } = await readUser(tenant, user.id);
    expect(final).toMatchObject({ name: "After", status: "deleted", attributes: { round: 2 } });
  });

  it("a later item may take the email an earlier item freed", async () => {
    const user = await createUser(tenant);
    const moved = uniqueEmail("moved");
    const results = await bulkOk(tenant, {
      operations: [
        { op: "update", id: user.id, data: { email: moved } },
        { op: "create", data: { email: user.email } },
      ],
    });
    expect(results.map((r) => r.status)).toEqual([200, 201]);
    expect((await readUser(tenant, user.id)).user.email).toBe(moved);
    expect((await readUser(tenant, results[1]?.id as string)).user.email).toBe(user.email);
  });

  it("an update taking another user's email or username fails alone with 409", async () => {
    const a = await createUser(tenant, { username: `a_${crypto.randomUUID().slice(0, 8)}` });
    const b = await createUser(tenant, { username: `b_${crypto.randomUUID().slice(0, 8)}` });
    const results = await bulkOk(tenant, {
      operations: [
        { op: "update", id: a.id, data: { email: b.email.toUpperCase() } },
        { op: "update", id: a.id, data: { username: String(b.username).toUpperCase() } },
        { op: "update", id: a.id, data: { name: "still fine" } },
      ],
    });
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [409, "EMAIL_TAKEN"],
      [409, "USERNAME_TAKEN"],
      [200, undefined],
    ]);
    expect((await readUser(tenant, a.id)).user).toMatchObject({ email: a.email, username: a.username });
  });

  it("an update that changes nothing is 200 with the user as it is", async () => {
    const user = await createUser(tenant, { name: "Same" });
    const { etag } = await readUser(tenant, user.id);
    const [result] = await bulkOk(tenant, { operations: [{ op: "update", id: user.id, data: { name: "Same" } }] });
    expect(result).toMatchObject({ index: 0, status: 200, id: user.id });
    expect((await readUser(tenant, user.id)).etag).toBe(etag);
  });

  it("creates with a password hash it and never return it", async () => {
    const email = uniqueEmail("pw");
    const [result] = await bulkOk(tenant, {
      operations: [{ op: "create", data: { email, password: "a long enough password" } }],
    });
    expect(result?.status).toBe(201);
    expect(Object.keys(result ?? {}).sort()).toEqual(["id", "index", "status"]);
    expectUserShape((await readUser(tenant, result?.id as string)).user as unknown as Record<string, unknown>);
  });
});

describe("POST /v1/users/bulk, atomic", () => {
  it("one invalid item → 422 BULK_ATOMIC_FAILED listing it, and nothing committed", async () => {
    const user = await createUser(tenant, { name: "Untouched" });
    const taken = await createUser(tenant);
    const before = await snapshot(tenant);
    const { etag } = await readUser(tenant, user.id);
    const problem = await expectProblem(
      await bulk(tenant, {
        atomic: true,
        operations: [
          { op: "create", data: { email: uniqueEmail("atomic") } },
          { op: "update", id: user.id, data: { name: "Changed" } },
          { op: "create", data: { email: "broken" } },
          { op: "delete", id: "usr_missing" },
          { op: "update", id: user.id, data: { email: taken.email } },
          { op: "create", data: { email: uniqueEmail("atomic") } },
        ],
      }),
      422,
      "BULK_ATOMIC_FAILED",
    );
    expect(problem.errors?.map((e) => [e.index, e.code])).toEqual([
      [2, "VALIDATION_FAILED"],
      [3, "USER_NOT_FOUND"],
      [4, "EMAIL_TAKEN"],
    ]);
    for (const e of problem.errors ?? []) expect(e.detail).toEqual(expect.any(String));
    expect(await snapshot(tenant)).toEqual(before);
    expect((await readUser(tenant, user.id)).etag).toBe(etag);
  });

  it("all valid → all committed", async () => {
    const user = await createUser(tenant);
    const victim = await createUser(tenant);
    const emails = [uniqueEmail("atomic-ok"), uniqueEmail("atomic-ok")];
    const response = await bulk(tenant, {
      atomic: true,
      operations: [
        ...emails.map((email) => ({ op: "create", data: { email } })),
        { op: "update", id: user.id, data: { attributes: { tier: "gold" } } },
        { op: "delete", id: victim.id },
      ],
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: BulkItem[] }>(response);
    expect(results.map((r) => r.status)).toEqual([201, 201, 200, 200]);
    const all = await snapshot(tenant);
    for (const email of emails) expect(all.filter((u) => u.email === email)).toHaveLength(1);
    expect((await readUser(tenant, user.id)).user.attributes).toEqual({ tier: "gold" });
    expect((await readUser(tenant, victim.id)).user.status).toBe("deleted");
  });

  it("two creates of one email in one atomic bulk → 422 naming the second", async () => {
    const email = uniqueEmail("twice");
    const before = await snapshot(tenant);
    const problem = await expectProblem(
      await bulk(tenant, {
        atomic: true,
        operations: [
          { op: "create", data: { email } },
          { op: "create", data: { email: email.toUpperCase() } },
        ],
      }),
      422,
      "BULK_ATOMIC_FAILED",
    );
    expect(problem.errors?.map((e) => [e.index, e.code])).toEqual([[1, "EMAIL_TAKEN"]]);
    expect(await snapshot(tenant)).toEqual(before);
  });
});
