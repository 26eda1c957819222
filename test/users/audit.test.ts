import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { type ApiUser, auditOf, bulkOk, patchUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users audit" });
});

const PASSWORD = "plaintext-secret-do-not-store";

/** Sends a request with our own X-Request-Id and checks the response echoes it. */
async function traced(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const requestId = `test-${crypto.randomUUID()}`;
  const response = await call(method, path, {
    token: tenant.key,
    ...options,
    headers: { ...options.headers, "x-request-id": requestId },
  });
  expect(response.headers.get("x-request-id")).toBe(requestId);
  return { response, requestId };
}

function expectClean(events: AuditEvent[], ...secrets: string[]) {
  const text = JSON.stringify(events).toLowerCase();
  for (const secret of secrets) expect(text).not.toContain(secret.toLowerCase());
  expect(text).not.toContain("pbkdf2");
}

describe("audit events of the user lifecycle", () => {
  it("created → updated → deleted → restored → purged, each with the requestId of its response", async () => {
    const email = uniqueEmail("audited");
    const create = await traced("POST", "/v1/users", {
      body: {
        email,
        name: "Audrey Hepburn",
        phone: "+14155550199",
        attributes: { department: "film" },
        password: PASSWORD,
      },
    });
    expect(create.response.status).toBe(201);
    const user = await json<ApiUser>(create.response);

    const update = await traced("PATCH", `/v1/users/${user.id}`, {
      body: { attributes: { department: "theatre", level: 2 }, roles: ["editor"] },
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(update.response.status).toBe(200);
    const remove = await traced("DELETE", `/v1/users/${user.id}`);
    expect(remove.response.status).toBe(200);
    const restore = await traced("POST", `/v1/users/${user.id}/restore`);
    expect(restore.response.status).toBe(200);
    const purge = await traced("DELETE", `/v1/users/${user.id}?permanent=true`);
    expect(purge.response.status).toBe(204);

    const events = await auditOf(tenant, user.id);
    expect(events.map((e) => [e.action, e.requestId])).toEqual([
      ["user.created", create.requestId],
      ["user.updated", update.requestId],
      ["user.deleted", remove.requestId],
      ["user.restored", restore.requestId],
      ["user.purged", purge.requestId],
    ]);
    for (const e of events) {
      expect(e.resource).toEqual({ type: "user", id: user.id });
      expect(e.actor.id).toBe(tenant.keyId);
      expect(e.createdAt).toMatch(/Z$/);
      expect(e.hash).toEqual(expect.any(String));
    }
    const [created, updated, deleted, restored, purged] = events as [
      AuditEvent,
      AuditEvent,
      AuditEvent,
      AuditEvent,
      AuditEvent,
    ];

    // created: the new values, personal ones masked, the password only as "set"
    expect(created.changes["attributes.department"]).toEqual({ from: null, to: "film" });
    expect(created.changes.email?.from).toBeNull();
    expect(created.changes.email?.to).toEqual(expect.any(String));
    expect(created.changes.email?.to).not.toBe(email);
    expect(created.changes.password).toBeDefined();
    expect(created.changes.password?.to).not.toBe(PASSWORD);

    // updated: only what changed, nested attributes by dotted path
    expect(updated.changes).toEqual({
      "attributes.department": { from: "film", to: "theatre" },
      "attributes.level": { from: null, to: 2 },
      roles: { from: [], to: ["editor"] },
    });

    expect(deleted.changes.status).toEqual({ from: "active", to: "deleted" });
    expect(deleted.changes.deletedAt?.from).toBeNull();
    expect(deleted.changes.deletedAt?.to).toEqual(expect.any(String));
    expect(restored.changes.status).toEqual({ from: "deleted", to: "active" });
    expect(restored.changes.deletedAt?.to).toBeNull();

    // purged: a tombstone, no personal data
    expect(purged.changes).toEqual({});

    expectClean(events, email, PASSWORD, "Audrey Hepburn", "+14155550199");
  });

  it("an email change is masked, never the plain address; a password change is never in plaintext", async () => {
    const oldEmail = uniqueEmail("before");
    const created = await call("POST", "/v1/users", { token: tenant.key, body: { email: oldEmail } });
    const user = await json<ApiUser>(created);
    const newEmail = uniqueEmail("after");
    expect((await patchUser(tenant, user.id, { email: newEmail, password: PASSWORD })).status).toBe(200);
    const events = await auditOf(tenant, user.id);
    const update = events.find((e) => e.action === "user.updated") as AuditEvent;
    expect(Object.keys(update.changes).sort()).toEqual(["email", "password"]);
    const { from, to } = update.changes.email as { from: string; to: string };
    expect(from).not.toBe(oldEmail);
    expect(to).not.toBe(newEmail);
    expect(from).toContain("***");
    expect(to).toContain("***");
    expect(update.changes.password?.from).toBeNull();
    expect(update.changes.password?.to).not.toBeNull();
    expectClean(events, oldEmail, newEmail, PASSWORD);
  });

  it("an attribute removed by null is recorded as {from, to: null}", async () => {
    const user = await json<ApiUser>(
      await call("POST", "/v1/users", {
        token: tenant.key,
        body: { email: uniqueEmail(), attributes: { a: 1, b: 2 } },
      }),
    );
    expect((await patchUser(tenant, user.id, { attributes: { a: null } })).status).toBe(200);
    const update = (await auditOf(tenant, user.id)).find((e) => e.action === "user.updated") as AuditEvent;
    expect(update.changes).toEqual({ "attributes.a": { from: 1, to: null } });
  });

  it("requests that change nothing leave no event: refused, 412, empty patch, idempotent replay", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("quiet") };
    const first = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    const user = await json<ApiUser>(first);
    const replay = await call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    await expectProblem(await patchUser(tenant, user.id, { status: "deleted" }), 400);
    await expectProblem(await patchUser(tenant, user.id, { name: "x" }, { "if-match": '"v999"' }), 412);
    expect((await patchUser(tenant, user.id, {})).status).toBe(200);
    expect((await patchUser(tenant, user.id, { attributes: {} })).status).toBe(200);
    await expectProblem(await call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key }), 409);
    const events = await auditOf(tenant, user.id);
    expect(events.map((e) => e.action)).toEqual(["user.created"]);
    expect(events[0]?.requestId).toBe(first.headers.get("x-request-id"));
  });

  it("a bulk request audits each committed item under its requestId, and no refused one", async () => {
    const a = await json<ApiUser>(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail() } }),
    );
    const requestId = `bulk-${crypto.randomUUID()}`;
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      headers: { "x-request-id": requestId },
      body: {
        operations: [
          { op: "update", id: a.id, data: { attributes: { department: "ops" } } },
          { op: "update", id: a.id, data: { status: "deleted" } },
          { op: "delete", id: a.id },
          { op: "create", data: { email: uniqueEmail("bulk-audit") } },
          { op: "create", data: { email: a.email } },
        ],
      },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: { status: number; id?: string }[] }>(response);
    expect(results.map((r) => r.status)).toEqual([200, 400, 200, 201, 409]);
    const events = await auditOf(tenant, a.id);
    expect(events.map((e) => [e.action, e.requestId])).toEqual([
      ["user.created", expect.any(String)],
      ["user.updated", requestId],
      ["user.deleted", requestId],
    ]);
    expect(events[1]?.changes).toEqual({ "attributes.department": { from: null, to: "ops" } });
    const createdId = results[3]?.id as string;
    expect((await auditOf(tenant, createdId)).map((e) => [e.action, e.requestId])).toEqual([
      ["user.created", requestId],
    ]);
  });

  it("an atomic bulk that is refused leaves no event", async () => {
    const a = await json<ApiUser>(
      await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail() } }),
    );
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        atomic: true,
        operations: [
          { op: "update", id: a.id, data: { name: "never" } },
          { op: "create", data: { email: "bad" } },
        ],
      },
    });
    await expectProblem(response, 422, "BULK_ATOMIC_FAILED");
    expect((await auditOf(tenant, a.id)).map((e) => e.action)).toEqual(["user.created"]);
    const all = await call("GET", "/v1/audit-events?action=user.created&limit=1000", { token: tenant.key });
    const page = await json<{ data: AuditEvent[] }>(all);
    expect(page.data.every((e) => e.requestId !== response.headers.get("x-request-id"))).toBe(true);
  });

  it("the audit chain stays intact after all of the above", async () => {
    const ids = (await bulkOk(tenant, { operations: [{ op: "create", data: { email: uniqueEmail() } }] })).map(
      (r) => r.id,
    );
    expect(ids).toHaveLength(1);
    const response = await call("GET", "/v1/audit-events/verify", { token: tenant.key });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ intact: true });
  });
});
