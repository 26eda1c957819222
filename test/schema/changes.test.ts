import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { attributesOf, defineField, patchField, readField, settled } from "./support";

let tenant: TestTenant;
const ids: string[] = [];

async function stored(id: string): Promise<Record<string, unknown>> {
  const db = await tenantDatabase(tenant.id);
  const row = await db.prepare("SELECT attributes FROM users WHERE id = ?").bind(id).first<{ attributes: string }>();
  return JSON.parse(row?.attributes ?? "null") as Record<string, unknown>;
}

async function filterIds(filter: string): Promise<string[]> {
  const response = await call("GET", `/v1/users?limit=1000&filter=${encodeURIComponent(filter)}`, {
    token: tenant.key,
  });
  expect(response.status).toBe(200);
  return (await json<{ data: { id: string }[] }>(response)).data.map((user) => user.id).sort();
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Schema changes" });
  // free-form values, stored before any field is declared
  for (const level of ["3", "7", "x", null]) {
    const attributes = level === null ? {} : { level, team: "blue" };
    ids.push((await createUser(tenant, { attributes })).id);
  }
});

describe("schema changes against existing users", () => {
  it("refuses a field that existing values do not fit, naming how many users and some of them", async () => {
    const refused = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "team", type: "integer" },
    });
    const problem = await expectProblem(refused, 409, "FIELD_CHANGE_REFUSED");
    expect(problem).toMatchObject({ violations: 3 });
    expect((problem as unknown as { sample: { userId: string }[] }).sample.map((s) => s.userId).sort()).toEqual(
      ids.slice(0, 3).sort(),
    );
    const required = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "team", type: "string", required: true },
    });
    expect(await expectProblem(required, 409, "FIELD_CHANGE_REFUSED")).toMatchObject({ violations: 1 });
    const unique = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "team", type: "string", unique: true },
    });
    expect(await expectProblem(unique, 409, "FIELD_CHANGE_REFUSED")).toMatchObject({ violations: 3 });
    const pii = await call("POST", "/v1/schema/fields", {
      token: tenant.key,
      body: { name: "team", type: "string", pii: true },
    });
    await expectProblem(pii, 409, "FIELD_CHANGE_REFUSED");
  });

  it("adds a field with a default: existing users get it at once, and for good once the backfill ran", async () => {
    await defineField(tenant, { name: "plan", type: "enum", enum: ["free", "paid"], required: true, default: "free" });
    expect(await attributesOf(tenant, ids[3] as string)).toMatchObject({ plan: "free" });
    await settled(tenant);
    expect(await stored(ids[3] as string)).toMatchObject({ plan: "free" });
  });

  it("makes a field required or unique only when the data allows it", async () => {
    await defineField(tenant, { name: "team", type: "string", filterable: true });
    const dry = await patchField(tenant, "team", { required: true }, "?dryRun=true");
    expect(dry.status).toBe(200);
    expect(await json(dry)).toMatchObject({ dryRun: true, allowed: false, violations: 1 });
    expect((await readField(tenant, "team")).required).toBe(false);
    await expectProblem(await patchField(tenant, "team", { required: true }), 409, "FIELD_CHANGE_REFUSED");
    await expectProblem(await patchField(tenant, "team", { unique: true }), 409, "FIELD_CHANGE_REFUSED");
    // with a default, the users without a value get it
    const withDefault = await patchField(tenant, "team", { required: true, default: "red" });
    expect(withDefault.status).toBe(200);
    await settled(tenant);
    expect(await stored(ids[3] as string)).toMatchObject({ team: "red" });
  });

  it("changes a type only when every value converts, after a dry run that lists the rest", async () => {
    await defineField(tenant, { name: "level", type: "string" });
    const dry = await patchField(tenant, "level", { type: "integer" }, "?dryRun=true");
    const report = await json<{ allowed: boolean; violations: number; sample: { userId: string; code: string }[] }>(
      dry,
    );
    expect(report).toMatchObject({ allowed: false, violations: 1 });
    expect(report.sample).toEqual([expect.objectContaining({ userId: ids[2], code: "invalid_type" })]);
    await expectProblem(await patchField(tenant, "level", { type: "integer" }), 409, "FIELD_CHANGE_REFUSED");
    const fix = await call("PATCH", `/v1/users/${ids[2]}`, { token: tenant.key, body: { attributes: { level: "5" } } });
    expect(fix.status).toBe(200);
    const changed = await patchField(tenant, "level", { type: "integer", filterable: true });
    expect(changed.status).toBe(200);
    expect(await attributesOf(tenant, ids[0] as string)).toMatchObject({ level: 3 });
    await settled(tenant);
    expect(await stored(ids[1] as string)).toMatchObject({ level: 7 });
    expect(await filterIds("attributes.level gt 4")).toEqual([ids[1], ids[2]].sort());
  });

  it("renames a field: values move, and the old name is accepted in writes and filters meanwhile", async () => {
    const renamed = await patchField(tenant, "team", { name: "squad" });
    expect(renamed.status).toBe(200);
    expect(await json(renamed)).toMatchObject({ name: "squad", previousName: "team" });
    expect(await attributesOf(tenant, ids[0] as string)).toMatchObject({ squad: "blue" });
    expect(await attributesOf(tenant, ids[0] as string)).not.toHaveProperty("team");
    expect(await filterIds('attributes.team eq "BLUE"')).toEqual(ids.slice(0, 3).sort());
    const write = await call("PATCH", `/v1/users/${ids[3]}`, {
      token: tenant.key,
      body: { attributes: { team: "green" } },
    });
    expect((await json<{ attributes: Record<string, unknown> }>(write)).attributes).toMatchObject({ squad: "green" });
    await settled(tenant);
    expect(await stored(ids[0] as string)).toMatchObject({ squad: "blue" });
    expect(await stored(ids[0] as string)).not.toHaveProperty("team");
    expect(await filterIds('attributes.squad eq "green"')).toEqual([ids[3]]);
    expect((await readField(tenant, "team")).name).toBe("squad");
  });

  it("deletes a field: gone from every user at once, values removed in the background, name free again", async () => {
    const response = await call("DELETE", "/v1/schema/fields/plan", { token: tenant.key });
    expect(response.status).toBe(204);
    expect(await attributesOf(tenant, ids[3] as string)).not.toHaveProperty("plan");
    await settled(tenant);
    expect(await stored(ids[3] as string)).not.toHaveProperty("plan");
    await defineField(tenant, { name: "plan", type: "string" });
    const { data } = await json<{ data: { action: string }[] }>(
      await call("GET", "/v1/audit-events?action=custom_field.deleted", { token: tenant.key }),
    );
    expect(data).toHaveLength(1);
  });

  it("changes every user's ETag with the schema, since their representation may have changed", async () => {
    const before = await call("GET", `/v1/users/${ids[0]}`, { token: tenant.key });
    const etag = before.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"v\d+-s\d+"$/);
    expect((await patchField(tenant, "squad", { description: "Team" })).status).toBe(200);
    const after = await call("GET", `/v1/users/${ids[0]}`, { token: tenant.key, headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(etag);
    const stale = await call("PATCH", `/v1/users/${ids[0]}`, {
      token: tenant.key,
      body: { name: "x" },
      headers: { "if-match": etag },
    });
    await expectProblem(stale, 412);
  });

  it("honours If-Match on changes", async () => {
    const response = await call("GET", "/v1/schema/fields/level", { token: tenant.key });
    const etag = response.headers.get("etag") ?? "";
    const stale = await call("PATCH", "/v1/schema/fields/level", {
      token: tenant.key,
      body: { description: "Seniority" },
      headers: { "if-match": '"v999"' },
    });
    await expectProblem(stale, 412);
    const fresh = await call("PATCH", "/v1/schema/fields/level", {
      token: tenant.key,
      body: { description: "Seniority" },
      headers: { "if-match": etag },
    });
    expect(fresh.status).toBe(200);
    const again = await call("PATCH", "/v1/schema/fields/level", {
      token: tenant.key,
      body: { description: "Seniority" },
    });
    expect(again.headers.get("etag")).toBe(fresh.headers.get("etag"));
  });
});

describe("indexes for filterable fields", () => {
  it("creates an expression index the filter uses, and drops it with the flag", async () => {
    const db = await tenantDatabase(tenant.id);
    const field = await readField(tenant, "level");
    const indexName = `users_cf_${field.id.toLowerCase()}`;
    const index = await db
      .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
      .bind(indexName)
      .first<{ sql: string }>();
    expect(index?.sql).toContain("json_extract(attributes, '$.level')");
    const plan = await db
      .prepare("EXPLAIN QUERY PLAN SELECT id FROM users WHERE json_extract(users.attributes, '$.level') > ?")
      .bind(4)
      .all<{ detail: string }>();
    expect(plan.results.map((row) => row.detail).join("\n")).toContain(`USING INDEX ${indexName}`);
    const unflag = await patchField(tenant, "level", { filterable: false });
    expect(unflag.status).toBe(200);
    const gone = await db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").bind(indexName).first();
    expect(gone).toBeNull();
    const refused = await call("GET", `/v1/users?filter=${encodeURIComponent("attributes.level gt 4")}`, {
      token: tenant.key,
    });
    const problem = await expectProblem(refused, 400, "INVALID_FILTER");
    expect(problem).toMatchObject({ attribute: "attributes.level" });
    expect(problem.detail).toContain("not filterable");
  });
});
