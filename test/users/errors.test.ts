import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, type TestTenant, uniqueEmail } from "../helpers/api";
import { type ApiUser, listAll, patchUser, readUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users errors" });
});

/** Runs `act`, and asserts that the tenant's users (all of them, deleted too) are exactly as before. */
async function unchanged(act: () => Promise<void>) {
  const before = (await listAll(tenant, { includeDeleted: "true" })).users;
  await act();
  const after = (await listAll(tenant, { includeDeleted: "true" })).users;
  expect(after).toEqual(before);
}

function post(body: unknown, headers: Record<string, string> = {}) {
  return call("POST", "/v1/users", { token: tenant.key, body, headers });
}

describe("POST /v1/users refuses bad input with a problem and creates nothing", () => {
  it("unknown top-level field → 400 VALIDATION_FAILED naming it", async () => {
    await unchanged(async () => {
      const problem = await expectProblem(
        await post({ email: uniqueEmail(), nickname: "x" }),
        400,
        "VALIDATION_FAILED",
      );
      expect(problem.errors).toContainEqual(expect.objectContaining({ field: "nickname" }));
      expect(problem.type).toBe("urn:uom:problem:validation-failed");
    });
  });

  it("server-owned fields (id, createdAt, mfa) are unknown fields on create", async () => {
    await unchanged(async () => {
      const problem = await expectProblem(
        await post({ email: uniqueEmail(), id: "usr_mine", createdAt: "2020-01-01T00:00:00Z", mfa: { totp: true } }),
        400,
        "VALIDATION_FAILED",
      );
      const fields = problem.errors?.map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(["id", "createdAt", "mfa"]));
    });
  });

  it("invalid email → 400 with errors[].field = email", async () => {
    await unchanged(async () => {
      for (const email of ["not-an-email", "a@", "@b.com", "", 42]) {
        const problem = await expectProblem(await post({ email }), 400, "VALIDATION_FAILED");
        expect(problem.errors?.map((e) => e.field)).toContain("email");
      }
    });
  });

  it("missing email → 400 with errors[].field = email", async () => {
    await unchanged(async () => {
      const problem = await expectProblem(await post({ name: "No Email" }), 400, "VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toContain("email");
    });
  });

  it("invalid nested values are reported by dotted path", async () => {
    await unchanged(async () => {
      const problem = await expectProblem(
        await post({ email: uniqueEmail(), attributes: { "bad key": 1 }, roles: ["Admin"], phone: "555" }),
        400,
        "VALIDATION_FAILED",
      );
      const fields = problem.errors?.map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(["attributes.bad key", "roles.0", "phone"]));
    });
  });

  it("a too short password → 400 on password, nothing created", async () => {
    await unchanged(async () => {
      const problem = await expectProblem(await post({ email: uniqueEmail(), password: "short" }), 400);
      expect(problem.errors?.map((e) => e.field)).toContain("password");
    });
  });

  it("malformed JSON body → 400 MALFORMED_JSON", async () => {
    await unchanged(async () => {
      const response = await call("POST", "/v1/users", {
        token: tenant.key,
        rawBody: '{"email": "x@example.com",',
        headers: { "content-type": "application/json" },
      });
      await expectProblem(response, 400, "MALFORMED_JSON");
    });
  });

  it("a JSON body that is not an object → 400", async () => {
    await unchanged(async () => {
      for (const rawBody of ["[]", '"ada@example.com"', "null"]) {
        const response = await call("POST", "/v1/users", {
          token: tenant.key,
          rawBody,
          headers: { "content-type": "application/json" },
        });
        await expectProblem(response, 400);
      }
    });
  });

  it("text/plain → 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    await unchanged(async () => {
      const response = await call("POST", "/v1/users", {
        token: tenant.key,
        rawBody: JSON.stringify({ email: uniqueEmail() }),
        headers: { "content-type": "text/plain" },
      });
      await expectProblem(response, 415, "UNSUPPORTED_MEDIA_TYPE");
    });
  });

  it("duplicate email, case-insensitive → 409 EMAIL_TAKEN", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    await createUser(tenant, { email: `Ada.${tag}@Example.com` });
    await unchanged(async () => {
      await expectProblem(await post({ email: `ada.${tag}@example.com` }), 409, "EMAIL_TAKEN");
      await expectProblem(await post({ email: `ADA.${tag}@EXAMPLE.COM` }), 409, "EMAIL_TAKEN");
    });
  });

  it("duplicate username, case-insensitive → 409 USERNAME_TAKEN", async () => {
    const username = `grace_${crypto.randomUUID().slice(0, 8)}`;
    await createUser(tenant, { username });
    await unchanged(async () => {
      await expectProblem(await post({ email: uniqueEmail(), username }), 409, "USERNAME_TAKEN");
      await expectProblem(
        await post({ email: uniqueEmail(), username: username.toUpperCase() }),
        409,
        "USERNAME_TAKEN",
      );
    });
  });

  it("no credential → 401, nothing created", async () => {
    await unchanged(async () => {
      await expectProblem(await call("POST", "/v1/users", { body: { email: uniqueEmail() } }), 401);
    });
  });
});

describe("PATCH /v1/users/{id} refuses bad patches and changes nothing", () => {
  let user: ApiUser;
  beforeAll(async () => {
    user = (await createUser(tenant, { name: "Target", attributes: { a: 1 } })) as unknown as ApiUser;
  });

  async function refused(patch: unknown, field?: string, contentType = "application/merge-patch+json") {
    const before = await readUser(tenant, user.id);
    await unchanged(async () => {
      const problem = await expectProblem(
        await patchUser(tenant, user.id, patch, { "content-type": contentType }),
        400,
      );
      if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    });
    const after = await readUser(tenant, user.id);
    expect(after).toEqual(before);
  }

  it("setting id → 400 naming id", async () => refused({ id: "usr_other" }, "id"));
  it("setting createdAt → 400 naming createdAt", async () =>
    refused({ createdAt: "2000-01-01T00:00:00Z" }, "createdAt"));
  it("setting updatedAt, deletedAt, mfa or lastLoginAt → 400", async () => {
    await refused({ updatedAt: "2000-01-01T00:00:00Z" }, "updatedAt");
    await refused({ deletedAt: "2000-01-01T00:00:00Z" }, "deletedAt");
    await refused({ lastLoginAt: "2000-01-01T00:00:00Z" }, "lastLoginAt");
    await refused({ mfa: { totp: true } }, "mfa");
  });
  it("an unknown field → 400 naming it", async () => refused({ nickname: "x" }, "nickname"));
  it("status deleted → 400 on status", async () => refused({ status: "deleted" }, "status"));
  it("removing the email (null) → 400 on email", async () => refused({ email: null }, "email"));
  it("an invalid email → 400 on email", async () => refused({ email: "nope" }, "email"));
  it("a bad attribute name → 400 on attributes.<name>", async () =>
    refused({ attributes: { "9lives": true } }, "attributes.9lives"));
  it("attributes that is not an object → 400", async () => refused({ attributes: "flat" }, "attributes"));
  it("the same with application/json", async () => refused({ status: "deleted" }, "status", "application/json"));

  it("a body that is not a JSON object → 400", async () => {
    await refused([{ op: "replace", path: "/name", value: "x" }]);
  });

  it("malformed JSON → 400 MALFORMED_JSON; text/plain → 415", async () => {
    const before = await readUser(tenant, user.id);
    await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, {
        token: tenant.key,
        rawBody: "{name:",
        headers: { "content-type": "application/merge-patch+json" },
      }),
      400,
      "MALFORMED_JSON",
    );
    await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, {
        token: tenant.key,
        rawBody: '{"name":"x"}',
        headers: { "content-type": "text/plain" },
      }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expect(await readUser(tenant, user.id)).toEqual(before);
  });

  it("taking another user's email or username → 409 and nothing changes", async () => {
    const other = await createUser(tenant, { username: `taken_${crypto.randomUUID().slice(0, 6)}` });
    const before = await readUser(tenant, user.id);
    await expectProblem(await patchUser(tenant, user.id, { email: other.email.toUpperCase() }), 409, "EMAIL_TAKEN");
    await expectProblem(
      await patchUser(tenant, user.id, { username: String(other.username).toUpperCase() }),
      409,
      "USERNAME_TAKEN",
    );
    expect(await readUser(tenant, user.id)).toEqual(before);
  });
});

describe("GET /v1/users query validation", () => {
  for (const query of [
    "limit=0",
    "limit=1001",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "sort=name",
    "includeDeleted=yes",
  ]) {
    it(`?${query} → 400`, async () => {
      const problem = await expectProblem(await call("GET", `/v1/users?${query}`, { token: tenant.key }), 400);
      expect(problem.code).toBe("VALIDATION_FAILED");
    });
  }

  it("an unknown query parameter → 400 naming it, never silently ignored", async () => {
    const problem = await expectProblem(
      await call("GET", "/v1/users?fliter=status%20eq%20%22active%22&limit=5", { token: tenant.key }),
      400,
      "VALIDATION_FAILED",
    );
    expect(problem.errors).toEqual([
      { field: "fliter", code: "unknown_parameter", detail: "Unknown parameter 'fliter'." },
    ]);
    const single = await call("GET", `/v1/users/usr_x?includedeleted=true`, { token: tenant.key });
    expect((await expectProblem(single, 400)).errors?.[0]?.field).toBe("includedeleted");
  });

  it("limit=1 and limit=1000 are accepted", async () => {
    expect((await call("GET", "/v1/users?limit=1", { token: tenant.key })).status).toBe(200);
    expect((await call("GET", "/v1/users?limit=1000", { token: tenant.key })).status).toBe(200);
  });

  it("a bad cursor → 400 INVALID_CURSOR", async () => {
    for (const cursor of ["garbage", "%%%", btoa("[1,2,3]"), btoa('["audit",5]')]) {
      await expectProblem(
        await call("GET", `/v1/users?cursor=${encodeURIComponent(cursor)}`, { token: tenant.key }),
        400,
        "INVALID_CURSOR",
      );
    }
  });

  it("a cursor of another sort order → 400 INVALID_CURSOR", async () => {
    await createUser(tenant);
    await createUser(tenant);
    const first = await call("GET", "/v1/users?limit=1", { token: tenant.key });
    const { nextCursor } = (await first.json()) as { nextCursor: string };
    expect(nextCursor).toBeTruthy();
    await expectProblem(
      await call("GET", `/v1/users?limit=1&sort=-createdAt&cursor=${nextCursor}`, { token: tenant.key }),
      400,
      "INVALID_CURSOR",
    );
    await expectProblem(
      await call("GET", `/v1/users?limit=1&includeDeleted=true&cursor=${nextCursor}`, { token: tenant.key }),
      400,
      "INVALID_CURSOR",
    );
  });
});
