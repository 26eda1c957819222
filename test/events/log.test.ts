import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { sleep } from "../helpers/db";
import { untilLogged } from "./support";

interface ApiEvent {
  id: string;
  type: string;
  tenantId: string;
  occurredAt: string;
  sequence: number;
  subjectId: string | null;
  data: Record<string, unknown>;
  delivery: "pending" | "dispatched" | "dead";
}
interface EventPage {
  data: ApiEvent[];
  nextCursor: string | null;
}

let tenant: TestTenant;
let other: TestTenant;
let users: string[];
let since: string;
let manager: string;

async function list(query: string, token = tenant.key): Promise<EventPage> {
  const response = await call("GET", `/v1/events${query}`, { token });
  expect(response.status).toBe(200);
  return json<EventPage>(response);
}

beforeAll(async () => {
  tenant = await createTenant({ name: "Event log" });
  other = await createTenant({ name: "Event log, other tenant" });
  // the tenant's first key is recorded in the platform's trail; this one in the tenant's
  manager = (await createKey(tenant, ["manager"])).secret;
  users = [];
  for (let i = 0; i < 3; i++) users.push((await createUser(tenant)).id);
  await sleep(5);
  since = new Date().toISOString();
  await sleep(5);
  for (const id of users) {
    expect((await call("PATCH", `/v1/users/${id}`, { token: tenant.key, body: { name: "Renamed" } })).status).toBe(200);
  }
  await createUser(other);
  // the tenant's creation and first key come from the platform outbox, copied into its log by the queue consumer
  await untilLogged(tenant.id, "api_key.created", tenant.keyId);
});

describe("GET /v1/events", () => {
  it("lists the tenant's events newest first, in the documented shape, without the sealed secret", async () => {
    const { data } = await list("?limit=1000");
    const mine = data.filter((e) => e.subjectId !== null && users.includes(e.subjectId));
    expect(mine.map((e) => e.type)).toEqual([
      "user.updated",
      "user.updated",
      "user.updated",
      "user.created",
      "user.created",
      "user.created",
    ]);
    const newest = data[0] as ApiEvent;
    expect(Object.keys(newest).sort()).toEqual(
      ["data", "delivery", "id", "occurredAt", "sequence", "subjectId", "tenantId", "type"].sort(),
    );
    expect(newest).toMatchObject({ id: expect.stringMatching(/^evt_/), tenantId: tenant.id, sequence: 2 });
    expect(newest.data).toMatchObject({ resource: { type: "user", id: newest.subjectId }, fields: ["name"] });
    const times = data.map((e) => e.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it("filters by exact type, by family (user.*) and by since", async () => {
    const created = await list("?type=user.created");
    expect(created.data.length).toBeGreaterThanOrEqual(3);
    expect(created.data.every((e) => e.type === "user.created")).toBe(true);
    const family = await list("?type=user.*&limit=1000");
    expect(new Set(family.data.map((e) => e.type))).toEqual(new Set(["user.created", "user.updated"]));
    const keys = await list("?type=api_key.*");
    // the manager key's (tenant trail), and the first key's (platform trail, copied into the log)
    expect(keys.data.map((e) => e.type)).toEqual(["api_key.created", "api_key.created"]);
    expect(keys.data[1]?.subjectId).toBe(tenant.keyId);
    const recent = await list(`?since=${encodeURIComponent(since)}`);
    expect(recent.data.map((e) => e.subjectId).sort()).toEqual([...users].sort());
    expect(recent.data.every((e) => e.type === "user.updated")).toBe(true);
    expect((await list("?type=api.*")).data).toEqual([]);
  });

  it("pages with limit and cursor, without gaps or repeats", async () => {
    const all = (await list("?limit=1000")).data.map((e) => e.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: EventPage = await list(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it("refuses bad filters and foreign cursors with a problem", async () => {
    await expectProblem(await call("GET", "/v1/events?since=yesterday", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/events?type=user.*.*", { token: tenant.key }), 400);
    await expectProblem(await call("GET", "/v1/events?cursor=bm9wZQ", { token: tenant.key }), 400, "INVALID_CURSOR");
  });

  it("another tenant never sees them", async () => {
    const { data } = await list("?limit=1000", other.key);
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((e) => e.tenantId === other.id)).toBe(true);
    const ids = new Set((await list("?limit=1000")).data.map((e) => e.id));
    expect(data.some((e) => ids.has(e.id))).toBe(false);
    expect(data.some((e) => e.subjectId !== null && users.includes(e.subjectId))).toBe(false);
  });

  it("needs events:read: the manager role has it, basic does not", async () => {
    expect((await call("GET", "/v1/events", { token: manager })).status).toBe(200);
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/events", { token: basic.secret }), 403);
    await expectProblem(await call("GET", "/v1/events"), 401);
  });
});
