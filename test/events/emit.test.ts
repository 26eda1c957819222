import { generate } from "otplib";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { count, platformEventsSettled, tenantDatabase } from "../helpers/db";
import { outboxOf, typesOf } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Events emitted" });
  // its creation's events are copied into its log in the background: let them land before counting rows
  await platformEventsSettled();
});

async function created(path: string, body: unknown): Promise<{ id: string; [key: string]: unknown }> {
  const response = await call("POST", path, { token: tenant.key, body });
  expect(response.status).toBe(201);
  return json(response);
}

async function outboxCount(): Promise<number> {
  return count(await tenantDatabase(tenant.id), "outbox_events");
}

describe("every audited change writes its outbox event in the same batch", () => {
  it("the user lifecycle: created → updated → deleted → restored → purged, in sequence, without personal data", async () => {
    const email = uniqueEmail("evented");
    const user = await created("/v1/users", { email, name: "Zoë Lovelace", phone: "+14155550123" });
    const path = `/v1/users/${user.id}`;
    expect((await call("PATCH", path, { token: tenant.key, body: { name: "Zoë Kingsbury" } })).status).toBe(200);
    expect((await call("DELETE", path, { token: tenant.key })).status).toBe(200);
    expect((await call("POST", `${path}/restore`, { token: tenant.key })).status).toBe(200);
    expect((await call("DELETE", `${path}?permanent=true`, { token: tenant.key })).status).toBe(204);

    expect(await typesOf(tenant.id, user.id)).toEqual([
      ["user.created", 1],
      ["user.updated", 2],
      ["user.deleted", 3],
      ["user.restored", 4],
      ["user.purged", 5],
    ]);
    const events = await outboxOf(tenant.id, user.id);
    const update = JSON.parse(events[1]?.data ?? "{}");
    expect(update).toMatchObject({
      resource: { type: "user", id: user.id },
      actor: { type: "api_key", id: tenant.keyId },
      fields: ["name"],
    });
    expect(typeof update.requestId).toBe("string");
    // names of fields, never their values: the outbox is stored in plaintext
    // (words no ULID can hold: Crockford base32 has no L, U or ë)
    const text = JSON.stringify(events).toLowerCase();
    for (const value of [email, "zoë", "lovelace", "kingsbury", "4155550123"]) expect(text).not.toContain(value);

    // the event id is its audit event's id, under evt_
    const audit = await json<{ data: { id: string; action: string }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}`, { token: tenant.key }),
    );
    expect(audit.data.map((a) => a.id.replace(/^aud_/, "evt_")).sort()).toEqual(events.map((e) => e.id).sort());
  });

  it("a refused change emits nothing", async () => {
    const user = await created("/v1/users", { email: uniqueEmail() });
    const before = await outboxCount();
    await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, {
        token: tenant.key,
        headers: { "if-match": '"stale"' },
        body: { name: "never" },
      }),
      412,
    );
    expect((await call("POST", "/v1/users", { token: tenant.key, body: { email: user.email } })).status).toBe(409);
    await expectProblem(
      await call("POST", "/v1/users/bulk", {
        token: tenant.key,
        body: {
          atomic: true,
          operations: [
            { op: "update", id: user.id, data: { name: "never" } },
            { op: "create", data: { email: "bad" } },
          ],
        },
      }),
      422,
      "BULK_ATOMIC_FAILED",
    );
    expect(await outboxCount()).toBe(before);
    expect(await typesOf(tenant.id, user.id)).toEqual([["user.created", 1]]);
  });

  it("a bulk request emits one event per committed item, none for the refused ones", async () => {
    const a = await created("/v1/users", { email: uniqueEmail() });
    const response = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "update", id: a.id, data: { attributes: { department: "ops" } } },
          { op: "delete", id: a.id },
          { op: "create", data: { email: uniqueEmail("bulk-event") } },
          { op: "create", data: { email: a.email } },
        ],
      },
    });
    expect(response.status).toBe(200);
    const { results } = await json<{ results: { status: number; id?: string }[] }>(response);
    expect(results.map((r) => r.status)).toEqual([200, 200, 201, 409]);
    expect(await typesOf(tenant.id, a.id)).toEqual([
      ["user.created", 1],
      ["user.updated", 2],
      ["user.deleted", 3],
    ]);
    expect(JSON.parse((await outboxOf(tenant.id, a.id))[1]?.data ?? "{}").fields).toEqual(["attributes.department"]);
    expect(await typesOf(tenant.id, results[2]?.id as string)).toEqual([["user.created", 1]]);
  });

  it("concurrent changes of one user take distinct, gapless sequence numbers", async () => {
    const user = await created("/v1/users", { email: uniqueEmail() });
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call("PATCH", `/v1/users/${user.id}`, { token: tenant.key, body: { name: `N${i}` } }),
      ),
    );
    const committed = responses.filter((r) => r.status === 200).length;
    expect(committed).toBeGreaterThan(0);
    const sequences = (await outboxOf(tenant.id, user.id)).map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: committed + 1 }, (_, i) => i + 1));
  });

  it("roles: role.created, role.updated, role.deleted under the role's name; an assignment is user.updated", async () => {
    const name = `events-${crypto.randomUUID().slice(0, 8)}`;
    await created("/v1/roles", { name, permissions: ["users:read"] });
    const patched = await call("PATCH", `/v1/roles/${name}`, {
      token: tenant.key,
      body: { permissions: ["users:read", "audit:read"] },
    });
    expect(patched.status).toBe(200);
    const user = await created("/v1/users", { email: uniqueEmail() });
    const assigned = await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: [name] } });
    expect(assigned.status).toBe(200);
    const [, assignment] = await outboxOf(tenant.id, user.id);
    expect(assignment?.type).toBe("user.updated");
    expect(JSON.parse(assignment?.data ?? "{}").fields).toEqual(["roles"]);
    // a guarded delete that matched nothing (the role is held) writes no audit row, hence no event
    await expectProblem(await call("DELETE", `/v1/roles/${name}`, { token: tenant.key }), 409, "ROLE_IN_USE");
    expect(await typesOf(tenant.id, name)).toHaveLength(2);
    const unassigned = await call("PUT", `/v1/users/${user.id}/roles`, { token: tenant.key, body: { roles: [] } });
    expect(unassigned.status).toBe(200);
    expect((await call("DELETE", `/v1/roles/${name}`, { token: tenant.key })).status).toBe(204);
    expect(await typesOf(tenant.id, name)).toEqual([
      ["role.created", 1],
      ["role.updated", 2],
      ["role.deleted", 3],
    ]);
  });

  it("API keys: api_key.created, api_key.rotated, api_key.revoked; the secret is in no event", async () => {
    const key = await created("/v1/api-keys", { name: "evented", roles: ["manager"] });
    const rotated = await call("POST", `/v1/api-keys/${key.id}/rotate`, { token: tenant.key, body: {} });
    expect(rotated.status).toBe(200);
    const { secret } = await json<{ secret: string }>(rotated);
    expect((await call("DELETE", `/v1/api-keys/${key.id}`, { token: tenant.key })).status).toBe(204);
    expect(await typesOf(tenant.id, key.id)).toEqual([
      ["api_key.created", 1],
      ["api_key.rotated", 2],
      ["api_key.revoked", 3],
    ]);
    const text = JSON.stringify(await outboxOf(tenant.id, key.id));
    expect(text).not.toContain(String(key.secret));
    expect(text).not.toContain(secret);
  });

  it("second factor: user.mfa_enabled and user.mfa_disabled", async () => {
    const user = await created("/v1/users", { email: uniqueEmail() });
    const start = await call("POST", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key });
    expect(start.status).toBe(201);
    const { secret } = await json<{ secret: string }>(start);
    const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
    const verify = await call("POST", `/v1/users/${user.id}/mfa/totp/verify`, { token: tenant.key, body: { code } });
    expect(verify.status).toBe(200);
    expect((await call("DELETE", `/v1/users/${user.id}/mfa/totp`, { token: tenant.key })).status).toBe(204);
    expect((await typesOf(tenant.id, user.id)).map(([type]) => type)).toEqual([
      "user.created",
      "user.mfa_enrollment_started",
      "user.mfa_enabled",
      "user.mfa_disabled",
    ]);
    expect(JSON.stringify(await outboxOf(tenant.id, user.id))).not.toContain(secret);
  });

  it("events the code writes itself are not doubled: one reset request, one schema.field_created", async () => {
    const user = await created("/v1/users", { email: uniqueEmail(), password: "a password 123" });
    const reset = await call("POST", "/v1/password-resets", { token: tenant.key, body: { email: user.email } });
    expect(reset.status).toBe(202);
    expect(await typesOf(tenant.id, user.id)).toEqual([
      ["user.created", 1],
      ["user.password_reset_requested", 2],
    ]);
    const field = await created("/v1/schema/fields", { name: `f${crypto.randomUUID().slice(0, 6)}`, type: "string" });
    expect((await outboxOf(tenant.id, field.id)).map((e) => [e.type, e.sequence])).toEqual([
      ["schema.field_created", 1],
    ]);
  });
});
