import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { count, tenantDatabase } from "../helpers/db";

// The tenant's password policy (length in code points) applies wherever a password is set: user create (single
// and bulk), PATCH, POST /v1/users/{id}/password (and the reset confirm: reset.test.ts).

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Password policy" });
  const put = await call("PUT", "/v1/security-policy", {
    token: tenant.key,
    body: { password: { minLength: 12, maxLength: 16 } },
  });
  expect(put.status).toBe(200);
});

async function storedHash(userId: string): Promise<string | null> {
  const row = await (await tenantDatabase(tenant.id))
    .prepare("SELECT password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ password_hash: string | null }>();
  return row?.password_hash ?? null;
}

describe("the tenant's password length policy", () => {
  it("POST /v1/users: too short or too long → 400 naming the field, no user created", async () => {
    const db = await tenantDatabase(tenant.id);
    const users = await count(db, "users");
    const short = await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), password: "eleven char" } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(short.errors).toEqual([{ field: "password", code: "too_short", detail: expect.stringContaining("12") }]);
    const long = await expectProblem(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), password: "x".repeat(17) } }),
      400,
    );
    expect(long.errors).toEqual([{ field: "password", code: "too_long", detail: expect.stringContaining("16") }]);
    expect(await count(db, "users")).toBe(users);
    expect(
      (await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), password: "twelve chars" } }))
        .status,
    ).toBe(201);
  });

  it("counts Unicode code points, not UTF-16 units: 12 emoji are 12 characters", async () => {
    const emoji = "\u{1F511}".repeat(12); // 24 UTF-16 units
    expect(
      (await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), password: emoji } })).status,
    ).toBe(201);
    const accents = "e\u0301".repeat(6); // 12 code points, 6 letters as seen
    expect(
      (await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), password: accents } }))
        .status,
    ).toBe(201);
  });

  it("bulk: an item with a short password fails alone with a field error; atomic refuses all", async () => {
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail("bulk"), password: "long enough pw" } },
          { op: "create", data: { email: uniqueEmail("bulk"), password: "too short" } },
        ],
      },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{
      results: { index: number; status: number; error?: { code: string; errors?: unknown[] } }[];
    }>(response);
    expect(results.map((r) => r.status)).toEqual([201, 400]);
    expect(results[1]?.error?.code).toBe("VALIDATION_FAILED");
    expect(results[1]?.error?.errors).toEqual([{ field: "password", code: "too_short", detail: expect.any(String) }]);

    const db = await tenantDatabase(tenant.id);
    const users = await count(db, "users");
    const atomic = await expectProblem(
      await call("POST", "/v1/users/bulk", {
        token: tenant.key,
        body: {
          atomic: true,
          operations: [
            { op: "create", data: { email: uniqueEmail("atomic"), password: "long enough pw" } },
            { op: "create", data: { email: uniqueEmail("atomic"), password: "x".repeat(20) } },
          ],
        },
      }),
      422,
      "BULK_ATOMIC_FAILED",
    );
    expect(atomic.errors).toEqual([
      expect.objectContaining({
        index: 1,
        code: "VALIDATION_FAILED",
        errors: [expect.objectContaining({ code: "too_long" })],
      }),
    ]);
    expect(await count(db, "users")).toBe(users);
  });

  it("PATCH and bulk update: the policy applies, the stored hash stays", async () => {
    const user = await createUser(tenant, { password: "original pass" });
    const hash = await storedHash(user.id);
    const patch = await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { password: "short pass" } }),
      400,
    );
    expect(patch.errors).toEqual([{ field: "password", code: "too_short", detail: expect.any(String) }]);
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: { operations: [{ op: "update", id: user.id, data: { password: "x".repeat(30) } }] },
    });
    const { results } = await json<{ results: { status: number; error?: { errors?: unknown[] } }[] }>(response);
    expect(results[0]?.status).toBe(400);
    expect(results[0]?.error?.errors).toEqual([
      { field: "data.password", code: "too_long", detail: expect.any(String) },
    ]);
    expect(await storedHash(user.id)).toBe(hash);
  });

  it("POST /v1/users/{id}/password: too short → 400, hash unchanged; the global 8–256 still applies first", async () => {
    const user = await createUser(tenant, { password: "original pass" });
    const hash = await storedHash(user.id);
    const set = (password: string) =>
      call("POST", `/v1/users/${user.id}/password`, { token: tenant.key, body: { password } });
    const short = await expectProblem(await set("nine char"), 400, "VALIDATION_FAILED");
    expect(short.errors?.[0]).toMatchObject({ field: "password", code: "too_short" });
    const global = await expectProblem(await set("seven c"), 400, "VALIDATION_FAILED");
    expect(global.errors?.[0]).toMatchObject({ field: "password", code: "too_small" });
    expect(await storedHash(user.id)).toBe(hash);
    expect((await set("exactly 16 chars")).status).toBe(204);
    expect(await storedHash(user.id)).not.toBe(hash);
  });
});
