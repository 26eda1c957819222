import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { type ApiField, attributesOf, defineField, readField } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Custom fields" });
  await defineField(tenant, {
    name: "department",
    type: "enum",
    enum: ["sales", "support"],
    required: true,
    default: "sales",
  });
  await defineField(tenant, { name: "seats", type: "integer", min: 1, max: 500 });
  await defineField(tenant, { name: "score", type: "number", max: 1 });
  await defineField(tenant, { name: "vip", type: "boolean" });
  await defineField(tenant, { name: "birthday", type: "date" });
  await defineField(tenant, { name: "contractEnds", type: "datetime" });
  await defineField(tenant, { name: "workEmail", type: "email" });
  await defineField(tenant, { name: "homepage", type: "url" });
  await defineField(tenant, { name: "deskPhone", type: "phone" });
  await defineField(tenant, { name: "tags", type: "string[]", maxLength: 3 });
  await defineField(tenant, { name: "badge", type: "string", pattern: "^[A-Z]{2}-[0-9]{4}$", maxLength: 7 });
});

async function createWith(attributes: Record<string, unknown>) {
  return call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail(), attributes } });
}

describe("custom field definitions", () => {
  it("lists, reads and counts schema versions", async () => {
    const response = await call("GET", "/v1/schema/fields", { token: tenant.key });
    const { data, nextCursor } = await json<{ data: ApiField[]; nextCursor: null }>(response);
    expect(data.map((field) => field.name)).toEqual([
      "department",
      "seats",
      "score",
      "vip",
      "birthday",
      "contractEnds",
      "workEmail",
      "homepage",
      "deskPhone",
      "tags",
      "badge",
    ]);
    expect(nextCursor).toBeNull();
    const seats = await readField(tenant, "seats");
    expect(seats).toMatchObject({ type: "integer", min: 1, max: 500, required: false, pii: false, restricted: false });
    expect(seats.id).toMatch(/^fld_/);
    expect(seats.schemaVersion).toBe(11);
    await expectProblem(await call("GET", "/v1/schema/fields/nope", { token: tenant.key }), 404, "FIELD_NOT_FOUND");
  });

  it("refuses incoherent definitions with one error per rule", async () => {
    const response = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "bad", type: "boolean", pattern: "^a$", min: 3, enum: ["x"], sortable: true, searchable: true },
    });
    const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(["enum", "min", "pattern", "searchable"]);
    await expectProblem(
      await call("POST", "/v1/schema/fields", { token: tenant.key, body: { name: "1st", type: "string" } }),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(
      await call("POST", "/v1/schema/fields", { token: tenant.key, body: { name: "Seats", type: "string" } }),
      409,
      "FIELD_NAME_TAKEN",
    );
    const enumDefault = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "tier", type: "enum", enum: ["a", "b"], default: "c" },
    });
    expect((await expectProblem(enumDefault, 400)).errors?.[0]?.field).toBe("default");
  });

  it("refuses a catastrophic pattern such as (a+)+$ when the field is defined", async () => {
    for (const pattern of ["(a+)+$", "^(\\w+\\s?)*$", "(.*a){12}"]) {
      const response = await call("POST", "/v1/schema/fields", {
        token: tenant.key,
        body: { name: "risky", type: "string", pattern },
      });
      const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
      expect(problem.errors).toEqual([expect.objectContaining({ field: "pattern", code: "unsafe_pattern" })]);
    }
    for (const pattern of ["(a)\\1", "(?=a)b", "["]) {
      const response = await call("POST", "/v1/schema/fields", {
        token: tenant.key,
        body: { name: "risky", type: "string", pattern },
      });
      await expectProblem(response, 400, "VALIDATION_FAILED");
    }
    const fields = await json<{ data: ApiField[] }>(await call("GET", "/v1/schema/fields", { token: tenant.key }));
    expect(fields.data.some((field) => field.name === "risky")).toBe(false);
  });
});

describe("values checked against the definitions", () => {
  it("accepts and normalises good values, applying defaults on create", async () => {
    const response = await createWith({
      seats: 3,
      score: 0.5,
      vip: true,
      birthday: "1990-02-28",
      contractEnds: "2027-01-01T10:00:00+02:00",
      workEmail: "ada@work.example",
      homepage: "https://ada.example",
      deskPhone: "+14155550100",
      tags: ["a", "b", "a"],
      badge: "AB-1234",
      freeForm: { anything: [1, 2] },
    });
    expect(response.status).toBe(201);
    const user = await json<{ id: string; attributes: Record<string, unknown> }>(response);
    expect(user.attributes).toEqual({
      department: "sales",
      seats: 3,
      score: 0.5,
      vip: true,
      birthday: "1990-02-28",
      contractEnds: "2027-01-01T08:00:00.000Z",
      workEmail: "ada@work.example",
      homepage: "https://ada.example",
      deskPhone: "+14155550100",
      tags: ["a", "b"],
      badge: "AB-1234",
      freeForm: { anything: [1, 2] },
    });
    expect(await attributesOf(tenant, user.id)).toEqual(user.attributes);
  });

  it("answers one error per bad field, and stores nothing", async () => {
    const response = await createWith({
      department: "legal",
      seats: 0,
      score: "high",
      vip: "yes",
      birthday: "1990-02-30",
      contractEnds: "tomorrow",
      workEmail: "nope",
      homepage: "javascript:alert(1)",
      deskPhone: "555",
      tags: ["a", "b", "c", "d"],
      badge: "ab-12",
    });
    const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
    expect(problem.errors?.map((e) => [e.field, e.code])).toEqual([
      ["attributes.department", "invalid_enum_value"],
      ["attributes.seats", "too_small"],
      ["attributes.score", "invalid_type"],
      ["attributes.vip", "invalid_type"],
      ["attributes.birthday", "invalid_format"],
      ["attributes.contractEnds", "invalid_format"],
      ["attributes.workEmail", "invalid_format"],
      ["attributes.homepage", "invalid_format"],
      ["attributes.deskPhone", "invalid_format"],
      ["attributes.tags", "too_big"],
      ["attributes.badge", "pattern_mismatch"],
    ]);
  });

  it("validates merge patches and bulk items the same way", async () => {
    const user = await createUser(tenant, {});
    const patch = await call("PATCH", `/v1/users/${user.id}`, {
      token: tenant.key,
      body: { attributes: { seats: 1000, department: null } },
    });
    const problem = await expectProblem(patch, 400, "VALIDATION_FAILED");
    expect(problem.errors?.map((e) => [e.field, e.code])).toEqual([
      ["attributes.department", "required"],
      ["attributes.seats", "too_big"],
    ]);
    const bulk = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail(), attributes: { seats: 2 } } },
          { op: "create", data: { email: uniqueEmail(), attributes: { vip: 1 } } },
          { op: "update", id: user.id, data: { attributes: { badge: "nope" } } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const { results } = await json<{ results: { status: number; error?: { errors?: { field: string }[] } }[] }>(bulk);
    expect(results.map((r) => r.status)).toEqual([201, 400, 400]);
    expect(results[1]?.error?.errors?.[0]?.field).toBe("data.attributes.vip");
    expect(results[2]?.error?.errors?.[0]?.field).toBe("data.attributes.badge");
  });

  it("matches patterns in linear time, with value length capped", async () => {
    await defineField(tenant, { name: "code", type: "string", pattern: "^(a|aa)*b$" });
    const hostile = "a".repeat(2000);
    const slow = await createWith({ code: hostile });
    expect((await expectProblem(slow, 400)).errors?.[0]).toMatchObject({
      field: "attributes.code",
      code: "pattern_mismatch",
    });
    const long = await createWith({ code: "a".repeat(5000) });
    expect((await expectProblem(long, 400)).errors?.[0]).toMatchObject({ field: "attributes.code", code: "too_big" });
  });

  it("stores a pii field encrypted, shows it opened, and filters it by exact value", async () => {
    await defineField(tenant, { name: "taxId", type: "string", pii: true, filterable: true, unique: true });
    const field = await readField(tenant, "taxId");
    expect(field.restricted).toBe(true);
    const user = await createUser(tenant, { attributes: { taxId: "DE-123456789" } });
    expect(await attributesOf(tenant, user.id)).toMatchObject({ taxId: "DE-123456789" });
    const db = await tenantDatabase(tenant.id);
    const raw = await db.prepare("SELECT * FROM users WHERE id = ?").bind(user.id).first();
    expect(JSON.stringify(raw)).not.toContain("123456789");
    const found = await call("GET", `/v1/users?filter=${encodeURIComponent('attributes.taxId eq "de-123456789"')}`, {
      token: tenant.key,
    });
    expect((await json<{ data: { id: string }[] }>(found)).data.map((u) => u.id)).toEqual([user.id]);
    const trail = await call("GET", `/v1/audit-events?resourceId=${user.id}`, { token: tenant.key });
    expect(trail.status).toBe(200);
    expect(await trail.text()).not.toContain("123456789");
    const taken = await createWith({ taxId: "DE-123456789" });
    const problem = await expectProblem(taken, 409, "FIELD_VALUE_TAKEN");
    expect(problem.errors?.[0]?.field).toBe("attributes.taxId");
    const sorted = await call("PATCH", "/v1/schema/fields/taxId", { token: tenant.key, body: { sortable: true } });
    await expectProblem(sorted, 400, "VALIDATION_FAILED");
    const immutable = await call("PATCH", "/v1/schema/fields/taxId", { token: tenant.key, body: { pii: false } });
    expect((await expectProblem(immutable, 400)).errors?.[0]).toMatchObject({ field: "pii", code: "immutable" });
  });

  it("audits and announces every change", async () => {
    const { data } = await json<{ data: { action: string; resource: { type: string } }[] }>(
      await call("GET", "/v1/audit-events?action=custom_field.created&limit=100", { token: tenant.key }),
    );
    expect(data.length).toBeGreaterThanOrEqual(11);
    expect(data[0]?.resource.type).toBe("custom_field");
    const db = await tenantDatabase(tenant.id);
    const events = await db
      .prepare("SELECT count(*) AS n FROM outbox_events WHERE type = 'schema.field_created'")
      .first<{ n: number }>();
    expect(events?.n).toBeGreaterThanOrEqual(11);
  });

  it("needs schema:write to change and schema:read to read", async () => {
    const key = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "m", roles: ["manager"] } });
    const { secret } = await json<{ secret: string }>(key);
    expect((await call("GET", "/v1/schema/fields", { token: secret })).status).toBe(200);
    const refused = await call("POST", "/v1/schema/fields", { token: secret, body: { name: "x", type: "string" } });
    await expectProblem(refused, 403);
  });
});

describe("unique fields in bulk requests", () => {
  it("names the unique field an item collides on, atomically or not", async () => {
    await defineField(tenant, { name: "employeeNo", type: "string", unique: true });
    await createUser(tenant, { attributes: { employeeNo: "E-1" } });
    const each = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        operations: [
          { op: "create", data: { email: uniqueEmail(), attributes: { employeeNo: "e-1" } } },
          { op: "create", data: { email: uniqueEmail(), attributes: { employeeNo: "E-2" } } },
          { op: "create", data: { email: uniqueEmail(), attributes: { employeeNo: "E-2" } } },
        ],
      },
    });
    const { results } = await json<{ results: { status: number; error?: { code: string } }[] }>(each);
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [409, "FIELD_VALUE_TAKEN"],
      [201, undefined],
      [409, "FIELD_VALUE_TAKEN"],
    ]);
    const atomic = await call("POST", "/v1/users/bulk", {
      token: tenant.key,
      body: {
        atomic: true,
        operations: [
          { op: "create", data: { email: uniqueEmail(), attributes: { employeeNo: "E-3" } } },
          { op: "create", data: { email: uniqueEmail(), attributes: { employeeNo: "E-1" } } },
        ],
      },
    });
    const problem = await expectProblem(atomic, 422, "BULK_ATOMIC_FAILED");
    expect(problem.errors?.[0]?.code).toBe("FIELD_VALUE_TAKEN");
    const found = await call("GET", `/v1/users?filter=${encodeURIComponent('attributes.employeeNo eq "E-3"')}`, {
      token: tenant.key,
    });
    expect((await json<{ data: unknown[] }>(found)).data).toEqual([]);
  });
});
