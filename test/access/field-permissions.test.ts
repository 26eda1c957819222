import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import type { AuditEvent } from "../helpers/audit";
import { dumpDatabase, tenantDatabase } from "../helpers/db";
import { clientCredentials, createClient, passwordGrant, type TestClient } from "../oauth/support";
import { defineField, patchField, settled } from "../schema/support";
import type { BulkItem } from "../users/support";

/**
 * Field-level permissions (docs/field-permissions.md), over real HTTP: for each guarded field and each grant
 * combination, reads leave the field out and writes refuse it exactly as granted. Tokens carry exact grants: an OAuth
 * client holding `admin` asks for a narrowed scope (RFC 6749 §3.3), so no custom role is needed.
 */

let tenant: TestTenant;
let db: D1Database;
let client: TestClient;

type User = Record<string, unknown> & { id: string; attributes: Record<string, unknown> };

/** Every guarded field of the tenant below: the core ones and the restricted custom fields. */
const RESTRICTED = [
  "email",
  "phone",
  "attributes.salary",
  "attributes.codename",
  "attributes.nickname",
  "attributes.level",
];

async function tokenFor(grants: readonly string[]): Promise<string> {
  return (await clientCredentials(client, grants.join(" "))).access_token;
}

function has(user: User, field: string): boolean {
  return field.startsWith("attributes.") ? field.slice(11) in user.attributes : field in user;
}

function fieldValue(user: User, field: string): unknown {
  return field.startsWith("attributes.") ? user.attributes[field.slice(11)] : user[field];
}

function patchOf(field: string, value: unknown): Record<string, unknown> {
  return field.startsWith("attributes.") ? { attributes: { [field.slice(11)]: value } } : { [field]: value };
}

let counter = 0;
function newPhone(): string {
  counter++;
  return `+1415555${String(1000 + counter).slice(-4)}`;
}

function word(): string {
  return `w${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

/** A user holding every field, created with the tenant's admin key. */
async function fixture(extra: Record<string, unknown> = {}): Promise<User & { word: string }> {
  const unique = word();
  const response = await call("POST", "/v1/users", {
    token: tenant.key,
    body: {
      email: uniqueEmail("fields"),
      phone: newPhone(),
      name: `Fieldtest ${unique}`,
      ...extra,
      attributes: {
        salary: 5000,
        team: "red",
        codename: `code${unique}`,
        nickname: `nick${unique}`,
        ...(extra.attributes as Record<string, unknown> | undefined),
      },
    },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return { ...(await json<User>(response)), word: unique };
}

async function read(token: string, id: string): Promise<User> {
  const response = await call("GET", `/v1/users/${id}`, { token });
  expect(response.status).toBe(200);
  return json<User>(response);
}

async function list(token: string, query: Record<string, string>): Promise<Response> {
  return call("GET", `/v1/users?${new URLSearchParams(query)}`, { token });
}

async function auditChanges(token: string, id: string): Promise<AuditEvent[]> {
  const response = await call("GET", `/v1/audit-events?resourceId=${id}`, { token });
  expect(response.status).toBe(200);
  return (await json<{ data: AuditEvent[] }>(response)).data;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Field permissions" });
  db = await tenantDatabase(tenant.id);
  await defineField(tenant, { name: "salary", type: "integer", restricted: true, filterable: true, sortable: true });
  await defineField(tenant, { name: "team", type: "string", filterable: true, sortable: true, searchable: true });
  await defineField(tenant, { name: "codename", type: "string", restricted: true, searchable: true });
  await defineField(tenant, { name: "nickname", type: "string", pii: true, searchable: true });
  await defineField(tenant, { name: "level", type: "integer", restricted: true, default: 1 });
  client = await createClient(tenant, { roles: ["admin"], grantTypes: ["client_credentials", "password"] });
});

interface FieldCase {
  field: string;
  restricted: boolean;
  next(): unknown;
  filter(user: User): string;
  sort?: string;
}

const FIELDS: FieldCase[] = [
  { field: "email", restricted: true, next: () => uniqueEmail("changed"), filter: (u) => `email eq "${u.email}"` },
  { field: "phone", restricted: true, next: newPhone, filter: (u) => `phone eq "${u.phone}"` },
  {
    field: "attributes.salary",
    restricted: true,
    next: () => 7000 + counter++,
    filter: () => "attributes.salary gt 0",
    sort: "-attributes.salary",
  },
  {
    field: "attributes.team",
    restricted: false,
    next: () => `team${counter++}`,
    filter: () => 'attributes.team eq "red"',
    sort: "attributes.team",
  },
];

const COMBOS: Record<string, readonly ("read" | "write")[]> = {
  none: [],
  read: ["read"],
  write: ["write"],
  "read+write": ["read", "write"],
};

const CASES = FIELDS.flatMap((spec) => Object.entries(COMBOS).map(([combo, actions]) => ({ spec, combo, actions })));

describe("each field × each grant combination", () => {
  it.each(CASES)("$spec.field with $combo", async ({ spec, actions }) => {
    const { field } = spec;
    // every other guarded field fully granted, so that only this one varies
    const others = RESTRICTED.filter((f) => f !== field).flatMap((f) => [`users.${f}:read`, `users.${f}:write`]);
    const own = actions.map((action) => `users.${field}:${action}`);
    const token = await tokenFor(["users:read", "users:write", "audit:read", ...others, ...own]);
    const readable = !spec.restricted || actions.includes("read");
    const writable = !spec.restricted || actions.includes("write");
    const user = await fixture();

    // reads: a single user, a list, a search
    expect(has(await read(token, user.id), field)).toBe(readable);
    const listed = await list(token, { filter: `id eq "${user.id}"` });
    expect(listed.status).toBe(200);
    expect(has((await json<{ data: User[] }>(listed)).data[0] as User, field)).toBe(readable);
    const searched = await list(token, { q: user.word });
    expect(searched.status).toBe(200);
    const hits = (await json<{ data: User[] }>(searched)).data;
    expect(hits.map((u) => u.id)).toEqual([user.id]);
    expect(has(hits[0] as User, field)).toBe(readable);

    // filters and sorts on it: allowed only with read
    const filtered = await list(token, { filter: spec.filter(user) });
    if (readable) expect(filtered.status).toBe(200);
    else {
      const problem = await expectProblem(filtered, 403, "FIELD_NOT_READABLE");
      expect(problem.errors).toEqual([{ field, code: "not_readable", detail: expect.stringContaining(field) }]);
    }
    if (spec.sort) {
      const sorted = await list(token, { sort: spec.sort });
      if (readable) expect(sorted.status).toBe(200);
      else expect((await expectProblem(sorted, 403, "FIELD_NOT_READABLE")).errors?.[0]?.field).toBe(field);
    }

    // writes: a new value; the current value (a no-op unless the field can be neither read nor written)
    const value = spec.next();
    let before = await dumpDatabase(db);
    const patched = await call("PATCH", `/v1/users/${user.id}`, { token, body: patchOf(field, value) });
    if (writable) {
      expect(patched.status).toBe(200);
      expect(has(await json<User>(patched), field)).toBe(readable);
      expect(fieldValue(await read(tenant.key, user.id), field)).toEqual(value);
    } else {
      const problem = await expectProblem(patched, 403, "FIELD_NOT_WRITABLE");
      expect(problem.errors).toEqual([{ field, code: "not_writable", detail: expect.stringContaining(field) }]);
      expect(await dumpDatabase(db)).toBe(before);
    }
    const current = fieldValue(await read(tenant.key, user.id), field);
    before = await dumpDatabase(db);
    const same = await call("PATCH", `/v1/users/${user.id}`, { token, body: patchOf(field, current) });
    if (readable || writable) expect(same.status).toBe(200);
    else expect((await expectProblem(same, 403, "FIELD_NOT_WRITABLE")).errors?.[0]?.field).toBe(field);
    expect(await dumpDatabase(db)).toBe(before);

    // bulk: the item writing the field alone is refused; a create setting it likewise
    const bulk = await call("POST", "/v1/users/bulk", {
      token,
      body: {
        operations: [
          { op: "update", id: user.id, data: patchOf(field, spec.next()) },
          { op: "update", id: user.id, data: { name: `Renamed ${user.word}` } },
          {
            op: "create",
            data: { email: uniqueEmail("bulk"), ...(field === "email" ? {} : patchOf(field, spec.next())) },
          },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    const results = (await json<{ results: BulkItem[] }>(bulk)).results;
    expect(results.map((r) => r.status)).toEqual(writable ? [200, 200, 201] : [403, 200, 403]);
    if (!writable) {
      expect(results[0]?.error?.code).toBe("FIELD_NOT_WRITABLE");
      const errors = (results[0]?.error as { errors?: { field: string }[] } | undefined)?.errors;
      expect(errors?.map((e) => e.field)).toEqual([`data.${field}`]);
    }

    // the audit trail: the field's entries only for who may read it, and never the restricted mark
    const events = await auditChanges(token, user.id);
    const created = events.find((e) => e.action === "user.created");
    expect(created && field in created.changes).toBe(readable);
    for (const event of events) {
      for (const entry of Object.values(event.changes)) expect(Object.keys(entry).sort()).toEqual(["from", "to"]);
    }
    const all = await auditChanges(tenant.key, user.id);
    expect(all.find((e) => e.action === "user.created")?.changes).toHaveProperty([field]);
  });
});

describe("writes", () => {
  it("a refused write names every field it may not write, and changes nothing", async () => {
    const token = await tokenFor(["users:read", "users:write"]);
    const user = await fixture();
    const before = await dumpDatabase(db);
    const response = await call("PATCH", `/v1/users/${user.id}`, {
      token,
      body: { name: "Allowed", email: uniqueEmail(), attributes: { salary: 1, team: "blue", codename: "x" } },
    });
    const problem = await expectProblem(response, 403, "FIELD_NOT_WRITABLE");
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(["attributes.codename", "attributes.salary", "email"]);
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("removing a restricted field (null, or all attributes at once) is writing it", async () => {
    const token = await tokenFor(["users:read", "users:write", "users.email:*", "users.phone:*"]);
    const user = await fixture();
    const before = await dumpDatabase(db);
    const one = await call("PATCH", `/v1/users/${user.id}`, { token, body: { attributes: { salary: null } } });
    expect((await expectProblem(one, 403, "FIELD_NOT_WRITABLE")).errors?.map((e) => e.field)).toEqual([
      "attributes.salary",
    ]);
    const all = await call("PATCH", `/v1/users/${user.id}`, { token, body: { attributes: null } });
    await expectProblem(all, 403, "FIELD_NOT_WRITABLE");
    expect(await dumpDatabase(db)).toBe(before);
    // other fields still change, and the restricted ones stay as they were
    const allowed = await call("PATCH", `/v1/users/${user.id}`, { token, body: { attributes: { team: "blue" } } });
    expect(allowed.status).toBe(200);
    expect((await read(tenant.key, user.id)).attributes).toMatchObject({ salary: 5000, team: "blue" });
  });

  it("a default the service fills in is not the caller's write; creating a user takes users.email:write", async () => {
    const token = await tokenFor(["users:read", "users:write", "users.email:*", "users.phone:*"]);
    const created = await call("POST", "/v1/users", { token, body: { email: uniqueEmail(), name: "Defaulted" } });
    expect(created.status).toBe(201);
    const user = await json<User>(created);
    expect(user.attributes).not.toHaveProperty("level");
    expect((await read(tenant.key, user.id)).attributes.level).toBe(1);
    const refused = await call("POST", "/v1/users", {
      token,
      body: { email: uniqueEmail(), attributes: { level: 3, salary: 10 } },
    });
    const problem = await expectProblem(refused, 403, "FIELD_NOT_WRITABLE");
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(["attributes.level", "attributes.salary"]);
    const noEmail = await tokenFor(["users:read", "users:write"]);
    const before = await dumpDatabase(db);
    const withoutGrant = await call("POST", "/v1/users", { token: noEmail, body: { email: uniqueEmail() } });
    expect((await expectProblem(withoutGrant, 403, "FIELD_NOT_WRITABLE")).errors?.[0]?.field).toBe("email");
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("an atomic bulk with a refused item commits nothing", async () => {
    const token = await tokenFor(["users:read", "users:write", "users.email:*", "users.phone:*"]);
    const user = await fixture();
    const before = await dumpDatabase(db);
    const response = await call("POST", "/v1/users/bulk", {
      token,
      body: {
        atomic: true,
        operations: [
          { op: "update", id: user.id, data: { name: "Fine" } },
          { op: "update", id: user.id, data: { attributes: { salary: 1 } } },
        ],
      },
    });
    const problem = await expectProblem(response, 422, "BULK_ATOMIC_FAILED");
    expect(problem.errors).toEqual([expect.objectContaining({ index: 1, code: "FIELD_NOT_WRITABLE" })]);
    expect(await dumpDatabase(db)).toBe(before);
  });
});

describe("built-in roles and the audit trail", () => {
  it("a manager key reads and writes email and phone, but no restricted custom field", async () => {
    const created = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "m", roles: ["manager"] } });
    const manager = (await json<{ secret: string }>(created)).secret;
    const user = await fixture();
    const shown = await read(manager, user.id);
    expect(shown).toMatchObject({ email: user.email, phone: user.phone });
    expect(Object.keys(shown.attributes).sort()).toEqual(["team"]);
    expect((await call("PATCH", `/v1/users/${user.id}`, { token: manager, body: { phone: newPhone() } })).status).toBe(
      200,
    );
    const raise = await call("PATCH", `/v1/users/${user.id}`, { token: manager, body: { attributes: { salary: 1 } } });
    await expectProblem(raise, 403, "FIELD_NOT_WRITABLE");
  });

  it("keeps a restricted field's past changes hidden after it was renamed out of the schema's memory", async () => {
    await defineField(tenant, { name: "bonus", type: "integer", restricted: true });
    const user = await fixture({ attributes: { bonus: 100 } });
    expect((await patchField(tenant, "bonus", { name: "prize" })).status).toBe(200);
    await settled(tenant);
    expect((await patchField(tenant, "prize", { name: "reward" })).status).toBe(200);
    await settled(tenant);
    const created = async (grants: string[]) =>
      (await auditChanges(await tokenFor(["audit:read", ...grants]), user.id)).find((e) => e.action === "user.created")
        ?.changes;
    expect(await created([])).not.toHaveProperty(["attributes.bonus"]);
    expect(await created([])).toHaveProperty(["attributes.team"]);
    expect(await created(["users.attributes.*:read"])).toHaveProperty(["attributes.bonus"]);
    expect((await read(tenant.key, user.id)).attributes.reward).toBe(100);
  });
});

describe("an end user's own account", () => {
  it("reads and writes their own email and phone without the grants, never a restricted field", async () => {
    const password = "correct horse battery staple";
    const me = await fixture({ password, roles: ["manager"] });
    const other = await fixture();
    const { access_token: token } = await passwordGrant(client, me.email as string, password, {
      scope: "users:read users:write",
    });
    const mine = await read(token, me.id);
    expect(mine.email).toBe(me.email);
    expect(mine.phone).toBe(me.phone);
    expect(mine.attributes).not.toHaveProperty("salary");
    expect(mine.attributes).toMatchObject({ team: "red" });
    const theirs = await read(token, other.id);
    expect(theirs).not.toHaveProperty("email");
    expect(theirs).not.toHaveProperty("phone");

    const email = uniqueEmail("self");
    const patched = await call("PATCH", `/v1/users/${me.id}`, { token, body: { email, phone: newPhone() } });
    expect(patched.status).toBe(200);
    expect((await json<User>(patched)).email).toBe(email);
    const before = await dumpDatabase(db);
    const raise = await call("PATCH", `/v1/users/${me.id}`, { token, body: { attributes: { salary: 999999 } } });
    expect((await expectProblem(raise, 403, "FIELD_NOT_WRITABLE")).errors?.[0]?.field).toBe("attributes.salary");
    const theirEmail = await call("PATCH", `/v1/users/${other.id}`, { token, body: { email: uniqueEmail() } });
    expect((await expectProblem(theirEmail, 403, "FIELD_NOT_WRITABLE")).errors?.[0]?.field).toBe("email");
    expect(await dumpDatabase(db)).toBe(before);
    // filters span users: no own-account exception there
    await expectProblem(await list(token, { filter: `email eq "${email}"` }), 403, "FIELD_NOT_READABLE");
  });

  it("a basic user's own profile (x-self) shows their email, not restricted fields", async () => {
    const password = "correct horse battery staple";
    const me = await fixture({ password, roles: ["basic"] });
    const { access_token: token } = await passwordGrant(client, me.email as string, password);
    const mine = await read(token, me.id);
    expect(mine.email).toBe(me.email);
    expect(Object.keys(mine.attributes).sort()).toEqual(["team"]);
  });
});

describe("q= is no oracle", () => {
  it("does not find a user by an email or phone fragment without the read grant", async () => {
    const user = await fixture({ email: `${word()}@fragment.example`, phone: "+19995550123" });
    const fragment = (user.email as string).slice(2, 9);
    const found = async (grants: string[], q: string) => {
      const response = await list(await tokenFor(["users:read", ...grants]), { q });
      expect(response.status).toBe(200);
      return (await json<{ data: User[] }>(response)).data.map((u) => u.id);
    };
    expect(await found(["users.email:read"], fragment)).toEqual([user.id]);
    expect(await found(["users.phone:read"], fragment)).toEqual([]);
    expect(await found(["users.phone:read"], "9995550")).toEqual([user.id]);
    expect(await found(["users.email:read"], "9995550")).toEqual([]);
    expect(await found([], `${fragment} ${user.word}`)).toEqual([]);
  });

  it("matches restricted searchable custom fields only with their grant", async () => {
    const user = await fixture();
    const byCode = `code${user.word}`;
    const byNick = `nick${user.word}`;
    const found = async (grants: string[], q: string) => {
      const response = await list(await tokenFor(["users:read", ...grants]), { q });
      expect(response.status).toBe(200);
      return (await json<{ data: User[] }>(response)).data.map((u) => u.id);
    };
    // plaintext tier (codename), keyed n-grams of pii fields (nickname)
    expect(await found(["users.attributes.codename:read"], byCode)).toEqual([user.id]);
    expect(await found([], byCode)).toEqual([]);
    expect(await found(["users.attributes.nickname:read"], byNick)).toEqual([user.id]);
    expect(await found(["users.attributes.codename:read"], byNick)).toEqual([]);
    expect(await found([], user.word)).toEqual([user.id]);
    expect(await found(["users.attributes.*:read"], `${byCode} ${byNick}`)).toEqual([user.id]);
  });
});

describe("SCIM", () => {
  const SCIM_TYPE = { "content-type": "application/scim+json" };
  const scim = (token: string, method: string, path: string, body?: unknown) =>
    call(method, `/scim/v2${path}`, {
      token,
      headers: SCIM_TYPE,
      ...(body === undefined ? {} : { rawBody: JSON.stringify(body) }),
    });

  it("leaves out emails and phoneNumbers without their grants, and keeps them through a PUT", async () => {
    const token = await tokenFor(["scim:access", "users:read", "users:write"]);
    const user = await fixture();
    const got = await scim(token, "GET", `/Users/${user.id}`);
    expect(got.status).toBe(200);
    const doc = await json<Record<string, unknown>>(got);
    expect(doc).not.toHaveProperty("emails");
    expect(doc).not.toHaveProperty("phoneNumbers");
    expect(doc.userName).toBe(user.id);
    expect(JSON.stringify(doc)).not.toContain(user.email as string);

    const listed = await scim(token, "GET", `/Users?filter=${encodeURIComponent(`id eq "${user.id}"`)}`);
    expect(JSON.stringify(await json(listed))).not.toContain(user.email as string);

    // PATCH that names no hidden field, then a PUT of the document as shown: the hidden values stay
    const patched = await scim(token, "PATCH", `/Users/${user.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    const shown = await json<Record<string, unknown>>(patched);
    const put = await scim(token, "PUT", `/Users/${user.id}`, { ...shown, active: true });
    expect(put.status, await put.clone().text()).toBe(200);
    const after = await read(tenant.key, user.id);
    expect(after).toMatchObject({ email: user.email, phone: user.phone, username: null, status: "active" });
  });

  it("refuses writes and filters naming emails or phoneNumbers without their grants", async () => {
    const token = await tokenFor(["scim:access", "users:read", "users:write"]);
    const user = await fixture();
    const before = await dumpDatabase(db);
    const patch = await scim(token, "PATCH", `/Users/${user.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: 'emails[type eq "work"].value', value: uniqueEmail() }],
    });
    expect(patch.status).toBe(403);
    expect((await json<{ detail: string }>(patch)).detail).toContain("email");
    const put = await scim(token, "PUT", `/Users/${user.id}`, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: user.id,
      phoneNumbers: [{ value: user.phone, type: "work", primary: true }],
    });
    expect(put.status).toBe(403);
    expect((await json<{ detail: string }>(put)).detail).toContain("phone");
    const created = await scim(token, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "newbie",
      emails: [{ value: uniqueEmail(), primary: true }],
    });
    expect(created.status).toBe(403);
    expect(await dumpDatabase(db)).toBe(before);
    for (const filter of [`emails.value eq "${user.email}"`, `userName eq "${user.email}"`, 'phoneNumbers co "555"']) {
      const response = await scim(token, "GET", `/Users?filter=${encodeURIComponent(filter)}`);
      expect(response.status, filter).toBe(403);
    }
  });
});
