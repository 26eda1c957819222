import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { CiphertextError, decryptField } from "../../src/core/crypto/data-keys";
import { findUserByLogin } from "../../src/modules/users/users.lookup";
import { openPii } from "../../src/modules/users/users.pii";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, dumpDatabase, rawRows, tenantDatabase } from "../helpers/db";
import { expectAbsent, markerEmail, markerPhone, tenantContext } from "./support";

interface RawUser {
  id: string;
  email_ct: string;
  email_bidx: string;
  phone_ct: string | null;
  phone_bidx: string | null;
  key_version: number;
}

let tenant: TestTenant;
let db: D1Database;
/** Every email and phone number this file gives the API: none may be found at rest. */
const personal: string[] = [];

function email(label: string): string {
  const value = markerEmail(label);
  personal.push(value);
  return value;
}

function phone(): string {
  const value = markerPhone();
  personal.push(value);
  return value;
}

async function rawUser(id: string): Promise<RawUser> {
  const [row] = await rawRows<RawUser>(db, "users", "id = ?", id);
  if (!row) throw new Error(`no row ${id}`);
  return row;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "PII at rest" });
  db = await tenantDatabase(tenant.id);
});

describe("personal data at rest", () => {
  it("no table of the tenant or control database holds an email or phone in plaintext, in any case", async () => {
    const single = await createUser(tenant, { email: email("Single"), phone: phone(), name: "Single" });
    const bulk = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: email("BulkOne"), phone: phone() } },
          { op: "create", data: { email: email("BulkTwo") } },
          { op: "update", id: single.id, data: { phone: phone() } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const patched = await call("PATCH", `/v1/users/${single.id}`, {
      token: tenant.key,
      body: { email: email("Patched"), phone: phone() },
    });
    expect(patched.status).toBe(200);
    const idempotent = { email: email("Idempotent"), phone: phone() };
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await call("POST", "/v1/users", {
        token: tenant.key,
        body: idempotent,
        headers: { "idempotency-key": "pii-at-rest-1" },
      });
      expect(response.status).toBe(201);
    }
    const deleted = await createUser(tenant, { email: email("Deleted"), phone: phone() });
    expect((await call("DELETE", `/v1/users/${deleted.id}`, { token: tenant.key })).status).toBe(200);
    expect((await call("POST", `/v1/users/${deleted.id}/restore`, { token: tenant.key })).status).toBe(200);
    const enrolment = await call("POST", `/v1/users/${deleted.id}/mfa/totp`, { token: tenant.key });
    expect(enrolment.status).toBe(201);
    const { secret } = await json<{ secret: string }>(enrolment);
    const purged = await createUser(tenant, { email: email("Purged"), phone: phone() });
    const purge = await call("DELETE", `/v1/users/${purged.id}?permanent=true`, { token: tenant.key });
    expect(purge.status).toBe(204);

    const tenantDump = await dumpDatabase(db);
    expect(tenantDump).toContain(single.id); // the dump is real: it has the users
    expectAbsent(tenantDump, [...personal, secret]);
    expectAbsent(await dumpDatabase(env.CONTROL_DB), [...personal, secret]);

    for (const row of await rawRows<RawUser>(db, "users")) {
      expect(row.email_ct).toMatch(/^v1\.[\w-]{40,}$/);
      expect(row.email_bidx).toMatch(/^[\w-]{43}$/);
      expect(row.key_version).toBe(1);
      if (row.phone_ct !== null) {
        expect(row.phone_ct).toMatch(/^v1\.[\w-]{30,}$/);
        expect(row.phone_bidx).toMatch(/^[\w-]{43}$/);
      }
    }
  });

  it("reads give back exactly what was written (the User shape is unchanged)", async () => {
    const written = { email: email("ReadBack"), phone: phone() };
    const created = await createUser(tenant, written);
    expect(created).toMatchObject(written);
    const read = await json(await call("GET", `/v1/users/${created.id}`, { token: tenant.key }));
    expect(read).toMatchObject({ id: created.id, ...written });
    const page = await json<{ data: { id: string; email: string; phone: string | null }[] }>(
      await call("GET", "/v1/users?limit=1000", { token: tenant.key }),
    );
    expect(page.data.find((u) => u.id === created.id)).toMatchObject(written);
    expect(page.data.every((u) => u.email.includes("@"))).toBe(true);
  });

  it("a login finds the user by email through the blind index, in any case; unknown emails find nobody", async () => {
    const address = email("Login");
    const created = await createUser(tenant, { email: address });
    const ctx = await tenantContext(tenant.id);
    expect((await findUserByLogin(ctx, address.toUpperCase()))?.id).toBe(created.id);
    expect((await findUserByLogin(ctx, `  ${address.toLowerCase()}`))?.id).toBe(created.id);
    expect(await findUserByLogin(ctx, markerEmail("Nobody"))).toBeUndefined();
    // the index is keyed per tenant: the same email in another tenant has another token
    const other = await createTenant({ name: "PII other" });
    await createUser(other, { email: address });
    const [mine] = await rawRows<RawUser>(db, "users", "id = ?", created.id);
    const [theirs] = await rawRows<RawUser>(await tenantDatabase(other.id), "users");
    expect(theirs?.email_bidx).toMatch(/^[\w-]{43}$/);
    expect(theirs?.email_bidx).not.toBe(mine?.email_bidx);
  });

  it("the email stays unique without plaintext: the same email in another case → 409 EMAIL_TAKEN, nothing changed", async () => {
    const address = email("Unique");
    const owner = await createUser(tenant, { email: address });
    const before = await count(db, "users");
    const again = await call("POST", "/v1/users", { token: tenant.key, body: { email: address.toUpperCase() } });
    await expectProblem(again, 409, "EMAIL_TAKEN");
    const other = await createUser(tenant, { email: email("Other") });
    const patch = await call("PATCH", `/v1/users/${other.id}`, {
      token: tenant.key,
      body: { email: address.toLowerCase() },
    });
    await expectProblem(patch, 409, "EMAIL_TAKEN");
    const bulk = await json<{ results: { status: number; error?: { code: string } }[] }>(
      await call("POST", "/v1/users/bulk", {
        token: tenant.key,
        body: { operations: [{ op: "create", data: { email: address.toLowerCase() } }] },
      }),
    );
    expect(bulk.results[0]).toMatchObject({ status: 409, error: { code: "EMAIL_TAKEN" } });
    expect(await count(db, "users")).toBe(before + 1);
    expect((await rawUser(owner.id)).email_bidx).not.toBe((await rawUser(other.id)).email_bidx);
  });

  it("a ciphertext moved to another row or column does not open (500, nothing leaked)", async () => {
    const a = await createUser(tenant, { email: email("MovedFrom"), phone: phone() });
    const b = await createUser(tenant, { email: email("MovedTo") });
    const rowA = await rawUser(a.id);
    await db.prepare("UPDATE users SET email_ct = ? WHERE id = ?").bind(rowA.email_ct, b.id).run();
    const read = await call("GET", `/v1/users/${b.id}`, { token: tenant.key });
    const problem = await expectProblem(read, 500);
    expect(JSON.stringify(problem)).not.toContain(a.email);
    const ctx = await tenantContext(tenant.id);
    await expect(openPii(ctx, { id: b.id, emailCt: rowA.email_ct, phoneCt: null })).rejects.toBeInstanceOf(
      CiphertextError,
    );
    // same row, another column: the column is bound in too
    await expect(
      openPii(ctx, { id: a.id, emailCt: rowA.phone_ct as string, phoneCt: rowA.email_ct }),
    ).rejects.toBeInstanceOf(CiphertextError);
    // a flipped bit fails authentication
    const middle = rowA.email_ct.length >> 1; // a whole-byte position, unlike the last character's padding bits
    const flipped = `${rowA.email_ct.slice(0, middle)}${rowA.email_ct[middle] === "A" ? "B" : "A"}${rowA.email_ct.slice(middle + 1)}`;
    await expect(openPii(ctx, { id: a.id, emailCt: flipped, phoneCt: null })).rejects.toBeInstanceOf(CiphertextError);
    // in place, it opens
    expect((await openPii(ctx, { id: a.id, emailCt: rowA.email_ct, phoneCt: rowA.phone_ct })).email).toBe(a.email);
  });

  it("decrypting needs MASTER_KEY: the stored data key does not unwrap under another master key", async () => {
    const created = await createUser(tenant, { email: email("MasterKey") });
    const row = await rawUser(created.id);
    const context = `users.email\u0000${created.id}`;
    const other = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    await expect(decryptField({ ...env, MASTER_KEY: other }, tenant.id, context, row.email_ct)).rejects.toBeInstanceOf(
      CiphertextError,
    );
    expect(await decryptField(env, tenant.id, context, row.email_ct)).toBe(created.email);
    // the control database holds the data key only wrapped: 32 bytes of key, 12 of IV, 16 of tag
    const [key] = await rawRows<{ wrapped_key: string; version: number }>(
      env.CONTROL_DB,
      "tenant_data_keys",
      "tenant_id = ?",
      tenant.id,
    );
    expect(key?.version).toBe(1);
    expect(key?.wrapped_key).toMatch(/^[\w-]{80}$/);
  });
});
