import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { type ApiUser, getUser, listAll, patchUser, readUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users ETag" });
});

describe("ETag, If-None-Match, If-Match", () => {
  it("GET carries the ETag; If-None-Match with it → 304 without a body; with another → 200", async () => {
    const user = await createUser(tenant);
    const read = await getUser(tenant, user.id);
    const etag = read.headers.get("etag") as string;
    expect(etag).toMatch(/^"[^"]+"$/);

    const cached = await call("GET", `/v1/users/${user.id}`, { token: tenant.key, headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get("etag")).toBe(etag);
    expect(await cached.text()).toBe("");

    const listed = await call("GET", `/v1/users/${user.id}`, {
      token: tenant.key,
      headers: { "if-none-match": `"nope", ${etag}` },
    });
    expect(listed.status).toBe(304);

    const stale = await call("GET", `/v1/users/${user.id}`, {
      token: tenant.key,
      headers: { "if-none-match": '"v0"' },
    });
    expect(stale.status).toBe(200);
    expect((await json(stale)).id).toBe(user.id);
  });

  it("a change gives a new ETag, and the old one no longer yields 304", async () => {
    const user = await createUser(tenant);
    const { etag } = await readUser(tenant, user.id);
    const patched = await patchUser(tenant, user.id, { name: "Changed" });
    expect(patched.status).toBe(200);
    const next = patched.headers.get("etag");
    expect(next).toBeTruthy();
    expect(next).not.toBe(etag);
    const read = await call("GET", `/v1/users/${user.id}`, { token: tenant.key, headers: { "if-none-match": etag } });
    expect(read.status).toBe(200);
    expect(read.headers.get("etag")).toBe(next);
  });

  it("PATCH with a stale If-Match → 412 PRECONDITION_FAILED, nothing changed", async () => {
    const user = await createUser(tenant, { name: "Before" });
    const { etag: stale } = await readUser(tenant, user.id);
    expect((await patchUser(tenant, user.id, { name: "Middle" })).status).toBe(200);
    const current = await readUser(tenant, user.id);

    await expectProblem(
      await patchUser(tenant, user.id, { name: "After" }, { "if-match": stale }),
      412,
      "PRECONDITION_FAILED",
    );
    expect(await readUser(tenant, user.id)).toEqual(current);

    const ok = await patchUser(tenant, user.id, { name: "After" }, { "if-match": current.etag });
    expect(ok.status).toBe(200);
    expect((await json<ApiUser>(ok)).name).toBe("After");
    expect(ok.headers.get("etag")).not.toBe(current.etag);
    expect((await readUser(tenant, user.id)).etag).toBe(ok.headers.get("etag"));
  });

  it("If-Match: * and a list containing the current ETag both pass", async () => {
    const user = await createUser(tenant);
    const { etag } = await readUser(tenant, user.id);
    expect((await patchUser(tenant, user.id, { name: "Star" }, { "if-match": "*" })).status).toBe(200);
    const { etag: next } = await readUser(tenant, user.id);
    expect(next).not.toBe(etag);
    expect((await patchUser(tenant, user.id, { name: "List" }, { "if-match": `${etag}, ${next}` })).status).toBe(200);
  });

  it("a weak If-Match never matches (strong comparison, RFC 9110 §13.1.1)", async () => {
    const user = await createUser(tenant);
    const { etag } = await readUser(tenant, user.id);
    await expectProblem(await patchUser(tenant, user.id, { name: "Weak" }, { "if-match": `W/${etag}` }), 412);
    expect((await readUser(tenant, user.id)).etag).toBe(etag);
  });

  it("DELETE with a stale If-Match → 412 and the user stays; with the current one → deleted", async () => {
    const user = await createUser(tenant);
    const { etag: stale } = await readUser(tenant, user.id);
    expect((await patchUser(tenant, user.id, { name: "Bump" })).status).toBe(200);
    const current = await readUser(tenant, user.id);

    await expectProblem(
      await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key, headers: { "if-match": stale } }),
      412,
      "PRECONDITION_FAILED",
    );
    await expectProblem(
      await call("DELETE", `/v1/users/${user.id}?permanent=true`, {
        token: tenant.key,
        headers: { "if-match": stale },
      }),
      412,
      "PRECONDITION_FAILED",
    );
    expect(await readUser(tenant, user.id)).toEqual(current);

    const deleted = await call("DELETE", `/v1/users/${user.id}`, {
      token: tenant.key,
      headers: { "if-match": current.etag },
    });
    expect(deleted.status).toBe(200);
    const deletedEtag = deleted.headers.get("etag") as string;
    expect(deletedEtag).not.toBe(current.etag);

    // restore honours If-Match too
    await expectProblem(
      await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key, headers: { "if-match": current.etag } }),
      412,
    );
    const restored = await call("POST", `/v1/users/${user.id}/restore`, {
      token: tenant.key,
      headers: { "if-match": deletedEtag },
    });
    expect(restored.status).toBe(200);

    const purged = await call("DELETE", `/v1/users/${user.id}?permanent=true`, {
      token: tenant.key,
      headers: { "if-match": restored.headers.get("etag") as string },
    });
    expect(purged.status).toBe(204);
  });
});

describe("Idempotency-Key on POST /v1/users", () => {
  it("the same key and body replays the first response and creates one user", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("idem"), name: "Once" };
    const first = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const created = await json<ApiUser>(first);

    const second = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("location")).toBe(first.headers.get("location"));
    expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(second.headers.get("x-request-id")).toBeTruthy();
    expect(await json(second)).toEqual(created);

    const third = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(third.status).toBe(201);
    expect((await json<ApiUser>(third)).id).toBe(created.id);

    const all = (await listAll(tenant)).users.filter((u) => u.email === body.email);
    expect(all.map((u) => u.id)).toEqual([created.id]);
  });

  it("the same key with another body → 409 IDEMPOTENCY_KEY_REUSED, nothing created", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("idem") };
    expect(
      (await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } })).status,
    ).toBe(201);
    const before = await listAll(tenant);
    const otherEmail = uniqueEmail("idem-other");
    await expectProblem(
      await call("POST", "/v1/users", {
        token: tenant.key,
        body: { email: otherEmail },
        headers: { "idempotency-key": key },
      }),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );
    const after = await listAll(tenant);
    expect(after.users).toEqual(before.users);
    expect(after.users.some((u) => u.email === otherEmail)).toBe(false);
  });

  it("a failed first request (409) is replayed as the same 409", async () => {
    const existing = await createUser(tenant);
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: existing.email };
    const first = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    const problem = await expectProblem(first, 409, "EMAIL_TAKEN");
    const again = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(again.status).toBe(409);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await json(again)).code).toBe(problem.code);
  });

  it("keys are per tenant: another tenant's same key and body creates its own user", async () => {
    const other = await createTenant({ name: "Users ETag other" });
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("shared") };
    const a = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    const b = await call("POST", "/v1/users", { token: other.key, body, headers: { "idempotency-key": key } });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect((await json<ApiUser>(a)).id).not.toBe((await json<ApiUser>(b)).id);
  });

  it("keys are per credential too: another key of the tenant is never replayed a response shaped for the first", async () => {
    const created = await call("POST", "/v1/api-keys", {
      token: tenant.key,
      body: { name: "Second", roles: ["manager"] },
    });
    const second = (await json<{ secret: string }>(created)).secret;
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("per-key") };
    const first = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(first.status).toBe(201);
    // the second credential's request runs for itself: the email is taken now
    const again = await call("POST", "/v1/users", { token: second, body, headers: { "idempotency-key": key } });
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    await expectProblem(again, 409);
  });

  it("an invalid key → 400, nothing created", async () => {
    const before = await listAll(tenant);
    await expectProblem(
      await call("POST", "/v1/users", {
        token: tenant.key,
        body: { email: uniqueEmail() },
        headers: { "idempotency-key": "has spaces in it" },
      }),
      400,
    );
    expect((await listAll(tenant)).users).toEqual(before.users);
  });

  it("Idempotency-Key on the bulk endpoint replays the bulk result and commits once", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const email = uniqueEmail("bulk-idem");
    const body = { operations: [{ op: "create", data: { email } }] };
    const first = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body,
      headers: { "idempotency-key": key },
    });
    const second = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body,
      headers: { "idempotency-key": key },
    });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await json(second)).toEqual(await json(first));
    expect((await listAll(tenant)).users.filter((u) => u.email === email)).toHaveLength(1);
  });
});
