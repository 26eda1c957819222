import { parseItem } from "structured-headers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, sleep, tenantDatabase } from "../helpers/db";
import { createEndpoint, deliveriesOf } from "../webhooks/support";

// The deprecated alias POST /v1/users/{id}/undelete: it works, says so (RFC 9745, RFC 8594, RFC 8288 links), is
// counted per credential (GET /v1/usage/deprecations) and emits api.deprecated_endpoint_called once a day per
// credential and route.

const ROUTE = "/v1/users/{id}/undelete";
const EVENT = "api.deprecated_endpoint_called";

let tenant: TestTenant;

interface DeprecatedCall {
  method: string;
  path: string;
  credential: string;
  requests: number;
  firstSeen: string;
  lastSeen: string;
  deprecatedAt: string;
  sunset: string;
  successor: string;
}
interface LoggedEvent {
  id: string;
  type: string;
  subjectId: string | null;
  data: Record<string, unknown>;
}

/** A soft-deleted user of the tenant. */
async function deletedUser(): Promise<string> {
  const { id } = await createUser(tenant);
  expect((await call("DELETE", `/v1/users/${id}`, { token: tenant.key })).status).toBe(200);
  return id;
}

async function undelete(token: string, id?: string): Promise<Response> {
  return call("POST", `/v1/users/${id ?? (await deletedUser())}/undelete`, { token });
}

/** Parses a Link header into [target, rel, type?] (RFC 8288 §3; enough for what this service sends). */
function links(header: string): { target: string; rel: string; type?: string }[] {
  return header.split(/,\s*(?=<)/).map((link) => {
    const target = /^<([^>]*)>/.exec(link)?.[1] ?? "";
    const params = Object.fromEntries([...link.matchAll(/;\s*(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    return { target, rel: params.rel ?? "", ...(params.type ? { type: params.type } : {}) };
  });
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: ${JSON.stringify(value).slice(0, 1500)}`);
    await sleep(100);
  }
}

async function deprecatedCalls(token = tenant.key): Promise<DeprecatedCall[]> {
  const response = await call("GET", "/v1/usage/deprecations", { token });
  expect(response.status).toBe(200);
  return (await json<{ data: DeprecatedCall[] }>(response)).data;
}

async function events(): Promise<LoggedEvent[]> {
  const response = await call("GET", `/v1/events?type=api.*&limit=1000`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: LoggedEvent[] }>(response)).data;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Versions deprecations" });
});

describe("POST /v1/users/{id}/undelete", () => {
  it("restores like /restore, and says it is deprecated: Deprecation, Sunset and Link, parsed", async () => {
    const id = await deletedUser();
    const response = await undelete(tenant.key, id);
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ id, status: "active", deletedAt: null });

    const [deprecation] = parseItem(response.headers.get("deprecation") ?? "");
    expect(deprecation).toBeInstanceOf(Date);
    expect(response.headers.get("deprecation")).toMatch(/^@\d+$/);
    expect((deprecation as Date).toISOString()).toBe("2026-11-01T00:00:00.000Z");

    const sunset = response.headers.get("sunset") ?? "";
    expect(sunset).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(new Date(sunset).toISOString()).toBe("2027-06-30T00:00:00.000Z");

    expect(links(response.headers.get("link") ?? "")).toEqual([
      { target: `/v1/users/${id}/restore`, rel: "successor-version" },
      { target: "/docs", rel: "deprecation", type: "text/html" },
    ]);
    // the successor the link names works, and is not deprecated
    expect((await call("DELETE", `/v1/users/${id}`, { token: tenant.key })).status).toBe(200);
    const successor = await call("POST", `/v1/users/${id}/restore`, { token: tenant.key });
    expect(successor.status).toBe(200);
    expect(successor.headers.get("deprecation")).toBeNull();
  });

  it("refusals say so too, with the same permission and errors as /restore", async () => {
    const basic = await createKey(tenant, ["basic"]);
    const forbidden = await undelete(basic.secret);
    await expectProblem(forbidden, 403, "FORBIDDEN");
    expect(forbidden.headers.get("deprecation")).toMatch(/^@\d+$/);
    const missing = await call("POST", "/v1/users/usr_missing/undelete", { token: tenant.key });
    await expectProblem(missing, 404);
    expect(missing.headers.get("sunset")).toBeTruthy();
    expect((await call("POST", "/v1/users/usr_missing/undelete")).headers.get("deprecation")).toMatch(/^@\d+$/);
  });

  it("is marked deprecated in the OpenAPI document, with its headers and successor", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { deprecated?: boolean; description?: string; responses: Body }>>;
    }>(await call("GET", "/v1/openapi.json"));
    const operation = doc.paths[ROUTE]?.post;
    expect(operation?.deprecated).toBe(true);
    expect(operation?.description).toContain("POST /v1/users/{id}/restore");
    expect(Object.keys(operation?.responses["200"]?.headers ?? {})).toEqual(
      expect.arrayContaining(["Deprecation", "Sunset", "Link"]),
    );
    expect(doc.paths["/v1/users/{id}/restore"]?.post?.deprecated).toBeUndefined();
  });
});

type Body = Record<string, { headers?: Record<string, unknown> }>;

describe("GET /v1/usage/deprecations", () => {
  it("counts the calls per credential, with first and last hour, sunset and successor", async () => {
    const tenant2 = await createTenant({ name: "Deprecations counted", plan: "free" });
    const manager = await createKey(tenant2, ["manager"]);
    const id = (await createUser(tenant2)).id;
    for (let i = 0; i < 3; i++) {
      expect((await call("DELETE", `/v1/users/${id}`, { token: tenant2.key })).status).toBe(200);
      expect((await call("POST", `/v1/users/${id}/undelete`, { token: tenant2.key })).status).toBe(200);
    }
    // counted whatever the answer: restoring an active user is a 409
    expect((await call("POST", `/v1/users/${id}/undelete`, { token: manager.secret })).status).toBe(409);
    // a free tenant's manager reads it: every plan, permission usage:read
    const rows = await until(
      "the calls counted",
      () => deprecatedCalls(manager.secret),
      (data) => data.reduce((n, row) => n + row.requests, 0) >= 4,
    );
    const hour = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/);
    const common = {
      method: "POST",
      path: ROUTE,
      deprecatedAt: "2026-11-01T00:00:00Z",
      sunset: "2027-06-30T00:00:00Z",
      successor: "POST /v1/users/{id}/restore",
    };
    expect(rows).toEqual(
      expect.arrayContaining([
        { ...common, credential: tenant2.keyId, requests: 3, firstSeen: hour, lastSeen: hour },
        { ...common, credential: manager.id, requests: 1, firstSeen: hour, lastSeen: hour },
      ]),
    );
    expect(rows).toHaveLength(2);
    // the successor's calls are not deprecated calls
    expect(rows.every((row) => row.path === ROUTE)).toBe(true);
  });

  it("needs usage:read, and refuses ranges as GET /v1/usage does", async () => {
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/usage/deprecations", { token: basic.secret }), 403, "FORBIDDEN");
    await expectProblem(
      await call("GET", "/v1/usage/deprecations?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", {
        token: tenant.key,
      }),
      400,
      "VALIDATION_FAILED",
    );
    const empty = await call("GET", "/v1/usage/deprecations?from=2026-09-01T00:00:00Z&to=2026-09-02T00:00:00Z", {
      token: tenant.key,
    });
    expect(await json(empty)).toEqual({
      from: "2026-09-01T00:00:00.000Z",
      to: "2026-09-02T00:00:00.000Z",
      data: [],
    });
  });
});

describe("api.deprecated_endpoint_called", () => {
  it("is emitted once per credential, route and day, to the event log and to webhooks; not for refusals", async () => {
    const webhook = await createEndpoint(tenant, { events: ["api.*"] });
    // a credential refused the route does not use it: no event (a refused request changes nothing)
    const basic = await createKey(tenant, ["basic"]);
    expect((await undelete(basic.secret)).status).toBe(403);
    const other = await createKey(tenant, ["admin"]);
    for (let i = 0; i < 3; i++) expect((await undelete(other.secret)).status).toBe(200);
    const mine = await until("the event", events, (list) => list.some((e) => e.data.credential === other.id));
    const day = new Date().toISOString().slice(0, 10);
    expect(mine.filter((e) => e.data.credential === other.id)).toEqual([
      {
        ...mine.find((e) => e.data.credential === other.id),
        type: EVENT,
        subjectId: other.id,
        data: {
          credential: other.id,
          method: "POST",
          path: ROUTE,
          successor: "POST /v1/users/{id}/restore",
          deprecatedAt: "2026-11-01T00:00:00Z",
          sunset: "2027-06-30T00:00:00Z",
          day,
        },
      },
    ]);
    const deliveries = await until(
      "the webhook delivery",
      () => deliveriesOf(tenant, webhook.id),
      (data) => data.some((d) => d.eventType === EVENT),
    );
    expect(deliveries.map((d) => d.eventId)).toContain(mine.find((e) => e.data.credential === other.id)?.id);
    // later calls add nothing
    for (let i = 0; i < 2; i++) expect((await undelete(other.secret)).status).toBe(200);
    await sleep(500);
    const later = await events();
    expect(later.filter((e) => e.data.credential === other.id)).toHaveLength(1);
    expect(later.some((e) => e.data.credential === basic.id)).toBe(false);
  });

  it("another isolate's notice of the day (its row) suppresses the event: one between them", async () => {
    const key = await createKey(tenant, ["admin"]);
    const db = await tenantDatabase(tenant.id);
    const day = new Date().toISOString().slice(0, 10);
    await db
      .prepare("INSERT INTO deprecation_notices (day, credential, route, created_at) VALUES (?, ?, ?, ?)")
      .bind(day, key.id, `POST ${ROUTE}`, new Date().toISOString())
      .run();
    expect((await undelete(key.secret)).status).toBe(200);
    // a second credential's call, made after it, is written: once it is, the first one has had its chance
    const witness = await createKey(tenant, ["admin"]);
    expect((await undelete(witness.secret)).status).toBe(200);
    await until("the witness's event", events, (list) => list.some((e) => e.data.credential === witness.id));
    await sleep(200);
    expect((await events()).some((e) => e.data.credential === key.id)).toBe(false);
    expect(await count(db, "deprecation_notices", "credential = ?", key.id)).toBe(1);
  });
});
