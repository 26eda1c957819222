import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, createUser, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { type ApiUser, auditOf, listAll, patchUser, readUser } from "./support";

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users concurrency" });
});

async function codeOf(response: Response): Promise<string | undefined> {
  if (response.status < 400) return undefined;
  return ((await response.json()) as { code: string }).code;
}

describe("concurrent creates", () => {
  it("ten creates with one email (in mixed case) → exactly one 201, the rest 409 EMAIL_TAKEN", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call("POST", "/v1/users", {
          token: tenant.key,
          body: { email: i % 2 ? `race.${tag}@example.com` : `RACE.${tag}@Example.com`, name: `n${i}` },
        }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(9).fill(409)]);
    for (const r of responses.filter((r) => r.status === 409)) expect(await codeOf(r)).toBe("EMAIL_TAKEN");
    const winner = await json<ApiUser>(responses.find((r) => r.status === 201) as Response);
    const matching = (await listAll(tenant)).users.filter((u) => u.email.toLowerCase() === `race.${tag}@example.com`);
    expect(matching.map((u) => u.id)).toEqual([winner.id]);
    // one audit event for the one user that exists
    expect((await auditOf(tenant, winner.id)).map((e) => e.action)).toEqual(["user.created"]);
  });

  it("ten creates with one username → exactly one 201, the rest 409 USERNAME_TAKEN", async () => {
    const username = `racer_${crypto.randomUUID().slice(0, 8)}`;
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("racer"), username } }),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of responses.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(await codeOf(r)).toBe("USERNAME_TAKEN");
    }
    expect((await listAll(tenant)).users.filter((u) => u.username === username)).toHaveLength(1);
  });

  it("concurrent requests with one Idempotency-Key create one user; no request gets another user", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { email: uniqueEmail("idem-race") };
    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        call("POST", "/v1/users", { token: tenant.key, body, headers: { "idempotency-key": key } }),
      ),
    );
    const ids = new Set<string>();
    for (const r of responses) {
      if (r.status === 201) ids.add((await json<ApiUser>(r)).id);
      else {
        expect(r.status).toBe(409);
        expect(await codeOf(r)).toBe("IDEMPOTENCY_REQUEST_IN_PROGRESS");
      }
    }
    expect(ids.size).toBe(1);
    expect((await listAll(tenant)).users.filter((u) => u.email === body.email)).toHaveLength(1);
  });
});

describe("concurrent changes of one user", () => {
  it("ten PATCHes each setting its own attribute: no lost update", async () => {
    const user = await createUser(tenant, { attributes: { base: true } });
    const { etag: initial } = await readUser(tenant, user.id);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => patchUser(tenant, user.id, { attributes: { [`k${i}`]: i } })),
    );
    const succeeded: number[] = [];
    for (const [i, r] of responses.entries()) {
      if (r.status === 200) {
        succeeded.push(i);
        const body = await json<ApiUser>(r);
        expect(body.attributes[`k${i}`]).toBe(i);
        expect(body.attributes.base).toBe(true);
      } else {
        expect(r.status).toBe(409);
        expect(await codeOf(r)).toBe("USER_WRITE_CONFLICT");
      }
    }
    expect(succeeded.length).toBeGreaterThan(0);
    const { user: final, etag } = await readUser(tenant, user.id);
    expect(etag).not.toBe(initial);
    const expected: Record<string, unknown> = { base: true };
    for (const i of succeeded) expected[`k${i}`] = i;
    expect(final.attributes).toEqual(expected);
    // every successful write, and only those, left an audit event
    const updates = (await auditOf(tenant, user.id)).filter((e) => e.action === "user.updated");
    expect(updates).toHaveLength(succeeded.length);
    // the ETags of the successful responses are all different (one version each)
    const etags = new Set(responses.filter((r) => r.status === 200).map((r) => r.headers.get("etag")));
    expect(etags.size).toBe(succeeded.length);
  });

  it("PATCHes pinned to the same ETag: exactly one wins, the others are 412", async () => {
    const user = await createUser(tenant);
    const { etag } = await readUser(tenant, user.id);
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => patchUser(tenant, user.id, { name: `writer ${i}` }, { "if-match": etag })),
    );
    const winners = responses.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of responses.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(412);
      expect(await codeOf(r)).toBe("PRECONDITION_FAILED");
    }
    const winner = await json<ApiUser>(winners[0] as Response);
    const { user: final } = await readUser(tenant, user.id);
    expect(final.name).toBe(winner.name);
    expect((await auditOf(tenant, user.id)).filter((e) => e.action === "user.updated")).toHaveLength(1);
  });

  it("concurrent soft deletes: one 200, the others 404, one user.deleted event", async () => {
    const user = await createUser(tenant);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses[0]).toBe(200);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const r of responses.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(404);
      expect(await codeOf(r)).toBe("USER_NOT_FOUND");
    }
    expect((await auditOf(tenant, user.id)).filter((e) => e.action === "user.deleted")).toHaveLength(1);
  });

  it("concurrent restores: one 200, the others 409 USER_NOT_DELETED", async () => {
    const user = await createUser(tenant);
    expect((await call("DELETE", `/v1/users/${user.id}`, { token: tenant.key })).status).toBe(200);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => call("POST", `/v1/users/${user.id}/restore`, { token: tenant.key })),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of responses.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(409);
      expect(await codeOf(r)).toBe("USER_NOT_DELETED");
    }
    expect((await readUser(tenant, user.id)).user.status).toBe("active");
  });

  it("a purge racing with PATCHes: the user is gone at the end, every 200 PATCH audited before it", async () => {
    const user = await createUser(tenant);
    const responses = await Promise.all([
      patchUser(tenant, user.id, { name: "a" }),
      call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key }),
      patchUser(tenant, user.id, { name: "b" }),
      patchUser(tenant, user.id, { name: "c" }),
    ]);
    const purge = responses[1] as Response;
    if (purge.status !== 204) {
      // the PATCHes may outrun the purge's retries; it then says so and a second purge goes through
      expect(purge.status).toBe(409);
      expect(await codeOf(purge)).toBe("USER_WRITE_CONFLICT");
      expect((await call("DELETE", `/v1/users/${user.id}?permanent=true`, { token: tenant.key })).status).toBe(204);
    }
    const patches = [responses[0], responses[2], responses[3]] as Response[];
    for (const r of patches) expect([200, 404, 409]).toContain(r.status);
    expect((await call("GET", `/v1/users/${user.id}?includeDeleted=true`, { token: tenant.key })).status).toBe(404);
    const actions = (await auditOf(tenant, user.id)).map((e) => e.action);
    expect(actions).toEqual([
      "user.created",
      ...patches.filter((r) => r.status === 200).map(() => "user.updated"),
      "user.purged",
    ]);
  });

  it("an atomic bulk racing with PATCHes of its user is all or nothing", async () => {
    const user = await createUser(tenant);
    const emails = Array.from({ length: 5 }, () => uniqueEmail("atomic-race"));
    const [bulkResponse, ...patches] = await Promise.all([
      call("POST", "/v1/users/bulk", {
        token: tenant.key,
        body: {
          atomic: true,
          operations: [
            { op: "update", id: user.id, data: { attributes: { fromBulk: true } } },
            ...emails.map((email) => ({ op: "create", data: { email } })),
          ],
        },
      }),
      ...Array.from({ length: 4 }, (_, i) => patchUser(tenant, user.id, { attributes: { [`p${i}`]: i } })),
    ]);
    const bulk = bulkResponse as Response;
    const present = (await listAll(tenant)).users.filter((u) => emails.includes(u.email));
    const { user: final } = await readUser(tenant, user.id);
    if (bulk.status === 200) {
      expect(present).toHaveLength(emails.length);
      expect(final.attributes.fromBulk).toBe(true);
    } else {
      expect(bulk.status).toBe(422);
      expect(await codeOf(bulk)).toBe("BULK_ATOMIC_FAILED");
      expect(present).toHaveLength(0);
      expect(final.attributes.fromBulk).toBeUndefined();
    }
    for (const [i, r] of patches.entries()) if (r.status === 200) expect(final.attributes[`p${i}`]).toBe(i);
  });

  it("a bulk create and a single create of one email at once: exactly one user gets it", async () => {
    const email = uniqueEmail("bulk-race");
    const [bulkResponse, single] = await Promise.all([
      call("POST", "/v1/users/bulk", { token: tenant.key, body: { operations: [{ op: "create", data: { email } }] } }),
      call("POST", "/v1/users", { token: tenant.key, body: { email: email.toUpperCase() } }),
    ]);
    expect(bulkResponse.status).toBe(200);
    const { results } = (await bulkResponse.json()) as { results: { status: number; error?: { code: string } }[] };
    const statuses = [results[0]?.status, single.status].sort();
    expect(statuses).toEqual([201, 409]);
    if (single.status === 409) expect(await codeOf(single)).toBe("EMAIL_TAKEN");
    else expect(results[0]?.error?.code).toBe("EMAIL_TAKEN");
    expect((await listAll(tenant)).users.filter((u) => u.email.toLowerCase() === email.toLowerCase())).toHaveLength(1);
  });

  it("two users swapping emails at once never end with a duplicate", async () => {
    const a = await createUser(tenant);
    const b = await createUser(tenant);
    const responses = await Promise.all([
      patchUser(tenant, a.id, { email: b.email }),
      patchUser(tenant, b.id, { email: a.email }),
    ]);
    for (const r of responses) {
      expect(r.status).toBe(409);
      expect(await codeOf(r)).toBe("EMAIL_TAKEN");
    }
    expect((await readUser(tenant, a.id)).user.email).toBe(a.email);
    expect((await readUser(tenant, b.id)).user.email).toBe(b.email);
  });
});
