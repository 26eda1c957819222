import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { defineField, patchField, settled } from "./support";

let tenant: TestTenant;
let ids: Record<string, string>;

async function searchIds(q: string): Promise<string[]> {
  const response = await call("GET", `/v1/users?limit=100&q=${encodeURIComponent(q)}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: { id: string }[] }>(response)).data.map((user) => user.id).sort();
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Searchable fields" });
  ids = {
    // free-form values, stored before the field is declared
    ada: (await createUser(tenant, { name: "Ada", attributes: { team: "Analytical Engines" } })).id,
    grace: (await createUser(tenant, { name: "Grace", attributes: { team: "Compilers" } })).id,
  };
});

describe("searchable custom fields", () => {
  it("indexes existing values when a field is declared searchable, and new writes at once", async () => {
    expect(await searchIds("engines")).toEqual([]);
    await defineField(tenant, { name: "team", type: "string", searchable: true });
    await settled(tenant);
    expect(await searchIds("engines")).toEqual([ids.ada]);
    const linus = await createUser(tenant, { name: "Linus", attributes: { team: "Kernel engineers" } });
    expect(await searchIds("engine")).toEqual([ids.ada, linus.id].sort());
    await call("PATCH", `/v1/users/${ids.grace}`, {
      token: tenant.key,
      body: { attributes: { team: "Compiler Engines" } },
    });
    expect(await searchIds("compiler")).toEqual([ids.grace]);
  });

  it("follows a rename, and stops searching a field whose flag is removed", async () => {
    expect((await patchField(tenant, "team", { name: "squad" })).status).toBe(200);
    await settled(tenant);
    expect(await searchIds("analytical")).toEqual([ids.ada]);
    expect((await patchField(tenant, "squad", { searchable: false })).status).toBe(200);
    await settled(tenant);
    expect(await searchIds("analytical")).toEqual([]);
    expect(await searchIds("ada")).toEqual([ids.ada]);
  });

  it("searches pii fields by part of their value without storing it", async () => {
    await defineField(tenant, { name: "nickname", type: "string", pii: true, searchable: true });
    const user = await createUser(tenant, { name: "Hedy", attributes: { nickname: "Frequencyhopper" } });
    expect(await searchIds("QUENCYHOP")).toEqual([user.id]);
    expect(await searchIds("hopper hedy")).toEqual([user.id]);
    expect(await searchIds("zzzhopper")).toEqual([]);
    const db = await tenantDatabase(tenant.id);
    const tables = await db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '_cf%'",
      )
      .all<{ name: string }>();
    for (const { name } of tables.results) {
      const rows = await db.prepare(`SELECT * FROM "${name}"`).raw();
      // FTS5 shadow tables hold blobs: read them as text too
      const text = rows
        .flat()
        .map((value) =>
          value instanceof ArrayBuffer || ArrayBuffer.isView(value) || Array.isArray(value)
            ? new TextDecoder().decode(Uint8Array.from(value as ArrayLike<number>))
            : String(value),
        )
        .join(" ");
      expect(text.toLowerCase(), name).not.toContain("frequency");
      if (name === "users_text_data") expect(text.toLowerCase()).toContain("hed");
    }
    const immutable = await patchField(tenant, "nickname", { searchable: false });
    expect((await expectProblem(immutable, 400)).errors?.[0]).toMatchObject({ field: "searchable", code: "immutable" });
  });
});
