import { beforeAll, describe, expect, it } from "vitest";
import { fieldCatalogue } from "../../src/modules/schema/fields.catalogue";
import { tenantSchema } from "../../src/modules/schema/schema.service";
import { compileUserFilter, parseUserFilter } from "../../src/modules/users/users.filter";
import { type ListPosition, pageQuery, type SortKey } from "../../src/modules/users/users.list";
import type { UserSort } from "../../src/modules/users/users.schema";
import { createTenant, type TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";
import { tenantContext } from "../pii/support";
import { defineField, readField } from "../schema/support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Filter plans" });
  await defineField(tenant, { name: "department", type: "string", filterable: true });
  await defineField(tenant, { name: "seats", type: "integer", filterable: true, sortable: true });
});

/** EXPLAIN QUERY PLAN of the page query `GET /v1/users?filter=…&sort=…` runs. */
async function plan(
  filter: string | null,
  sort: UserSort = "createdAt",
  sortKey?: SortKey,
  after: ListPosition | null = null,
): Promise<string> {
  const ctx = await tenantContext(tenant.id);
  const tree = filter === null ? null : parseUserFilter(filter);
  const attributes = tree ? await fieldCatalogue(ctx, await tenantSchema(ctx), tree) : undefined;
  const compiled = tree && (await compileUserFilter(ctx, tree, { attributes, now: Date.now(), maxParams: 90 }));
  const query = pageQuery(ctx, {
    sort,
    sortKey,
    after,
    includeDeleted: false,
    limit: 51,
    filter: compiled ?? undefined,
  }).toSQL();
  const db = await tenantDatabase(tenant.id);
  const { results } = await db
    .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
    .bind(...query.params)
    .all<{ detail: string }>();
  return results.map((row) => row.detail).join("\n");
}

describe("filters and sorts on indexed fields use their index", () => {
  it("built-in fields", async () => {
    expect(await plan('username eq "Ada"')).toMatch(
      /SEARCH users USING INDEX sqlite_autoindex_users_\d \(username_normalized=\?\)/,
    );
    expect(await plan('email eq "ada@example.com"')).toMatch(
      /SEARCH users USING INDEX sqlite_autoindex_users_\d \(email_bidx=\?\)/,
    );
    expect(await plan('phone eq "+14155550100"')).toMatch(/USING INDEX users_phone_bidx_idx/);
    expect(await plan('createdAt gt "now-30d"')).toMatch(
      /SEARCH users USING INDEX users_created_idx \(created_at>\?\)/,
    );
    expect(await plan('updatedAt gt "now-1h"', "-updatedAt")).toMatch(
      /USING INDEX users_updated_idx \(updated_at>\?\)/,
    );
    const lastLogin = { expression: "users.last_login_at", descending: false };
    expect(await plan('lastLoginAt lt "now-30d"', "lastLoginAt", lastLogin)).toMatch(
      /USING INDEX users_last_login_idx/,
    );
  });

  it("custom fields, alone and in a two-condition filter", async () => {
    const department = `users_cf_${(await readField(tenant, "department")).id.toLowerCase()}`;
    const seats = `users_cf_${(await readField(tenant, "seats")).id.toLowerCase()}`;
    expect(await plan('attributes.department eq "Sales"')).toContain(`SEARCH users USING INDEX ${department}`);
    const bySeats = { expression: "json_extract(users.attributes, '$.seats')", descending: false };
    expect(await plan("attributes.seats ge 10", "attributes.seats", bySeats)).toMatch(
      new RegExp(`SEARCH users USING INDEX ${seats}(_sort)? `),
    );
    // (value, created_at, id): the default order comes from the index, no sort of every matching user
    const both = await plan('attributes.department eq "sales" and attributes.seats gt 40');
    expect(both).toContain(`SEARCH users USING INDEX ${department} (<expr>=?)`);
    expect(both).not.toMatch(/TEMP B-TREE/);
    const recent = await plan('createdAt gt "now-1d" and attributes.department eq "finance"', "-createdAt");
    expect(recent).toContain(`SEARCH users USING INDEX ${department} (<expr>=? AND created_at>?)`);
    expect(recent).not.toMatch(/TEMP B-TREE/);
    const sorted = await plan('status eq "active"', "attributes.seats", bySeats);
    expect(sorted).toContain(`USING INDEX ${seats}_sort`);
    expect(sorted).not.toMatch(/TEMP B-TREE/);
  });

  it("a page after a cursor seeks the (time, id) index to it instead of scanning from the first user", async () => {
    const after = { value: "2026-01-01T00:00:00.000Z", id: "usr_0" };
    expect(await plan(null, "createdAt", undefined, after)).toContain(
      "SEARCH users USING INDEX users_created_idx ((created_at,id)>(?,?))",
    );
    expect(await plan(null, "-updatedAt", undefined, after)).toContain(
      "SEARCH users USING INDEX users_updated_idx ((updated_at,id)<(?,?))",
    );
  });
});
