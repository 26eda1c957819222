import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, dumpDatabase, tenantDatabase } from "../helpers/db";

// Endpoints: CRUD, validation problems, the plan quota, permissions, ETags, secrets kept sealed, audit rows.

interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  status: "enabled" | "disabled";
  disabledReason: string | null;
  disabledAt: string | null;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

// http to loopback is allowed here: the tests run with ENVIRONMENT "development" (wrangler.toml)
const URL_A = "http://127.0.0.1:9/a";

let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: "Webhook endpoints" });
  db = await tenantDatabase(tenant.id);
});

async function create(body: Record<string, unknown>, token = tenant.key) {
  return call("POST", "/v1/webhooks", { token, body });
}

async function created(body: Record<string, unknown> = {}) {
  const response = await create({ url: URL_A, events: ["user.created"], ...body });
  expect(response.status).toBe(201);
  return json<Webhook>(response);
}

describe("webhook endpoints", () => {
  it("creates an endpoint and shows its whsec_ secret once; the row keeps it sealed", async () => {
    const response = await create({ url: URL_A, events: ["user.created", "user.*", "user.*"], description: "CRM" });
    expect(response.status).toBe(201);
    const webhook = await json<Webhook>(response);
    expect(webhook).toMatchObject({
      url: URL_A,
      events: ["user.created", "user.*"],
      description: "CRM",
      status: "enabled",
      disabledReason: null,
    });
    expect(webhook.id).toMatch(/^whk_/);
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(response.headers.get("etag")).toBe('"v1"');
    expect(response.headers.get("location")).toBe(`/v1/webhooks/${webhook.id}`);

    const read = await call("GET", `/v1/webhooks/${webhook.id}`, { token: tenant.key });
    expect(read.status).toBe(200);
    const shown = await json<Webhook>(read);
    expect(shown).not.toHaveProperty("secret");
    expect(shown).toEqual({ ...webhook, secret: undefined, id: webhook.id });

    const secret = webhook.secret as string;
    const dump = await dumpDatabase(db);
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(secret.slice("whsec_".length));
    expect(await count(db, "audit_events", "action = 'webhook.created' AND resource_id = ?", webhook.id)).toBe(1);
    expect(await count(db, "outbox_events", "type = 'webhook.created' AND subject_id = ?", webhook.id)).toBe(1);
  });

  it("lists endpoints oldest first with cursor paging", async () => {
    const first = await created({ description: "page 1" });
    const second = await created({ description: "page 2" });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : "?limit=1";
      const page = await json<{ data: Webhook[]; nextCursor: string | null }>(
        await call("GET", `/v1/webhooks${query}`, { token: tenant.key }),
      );
      ids.push(...page.data.map((w) => w.id));
      expect(page.data.every((w) => w.secret === undefined)).toBe(true);
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids.indexOf(first.id)).toBeLessThan(ids.indexOf(second.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("answers 304 to a current If-None-Match and 412 to a stale If-Match", async () => {
    const webhook = await created();
    const path = `/v1/webhooks/${webhook.id}`;
    const etag = (await call("GET", path, { token: tenant.key })).headers.get("etag") as string;
    expect((await call("GET", path, { token: tenant.key, headers: { "if-none-match": etag } })).status).toBe(304);
    const patched = await call("PATCH", path, {
      token: tenant.key,
      body: { description: "changed" },
      headers: { "if-match": etag },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("etag")).toBe('"v2"');
    await expectProblem(
      await call("PATCH", path, { token: tenant.key, body: { description: "again" }, headers: { "if-match": etag } }),
      412,
      "PRECONDITION_FAILED",
    );
    await expectProblem(
      await call("DELETE", path, { token: tenant.key, headers: { "if-match": etag } }),
      412,
      "PRECONDITION_FAILED",
    );
  });

  it("patches URL, filters and description; disabling and enabling are audited as such", async () => {
    const webhook = await created();
    const path = `/v1/webhooks/${webhook.id}`;
    const changed = await json<Webhook>(
      await call("PATCH", path, {
        token: tenant.key,
        body: { url: "https://hooks.example.com/x", events: ["role.*"], description: null },
      }),
    );
    expect(changed).toMatchObject({ url: "https://hooks.example.com/x", events: ["role.*"], description: null });

    const disabled = await json<Webhook>(
      await call("PATCH", path, { token: tenant.key, body: { status: "disabled" } }),
    );
    expect(disabled).toMatchObject({ status: "disabled", disabledReason: "manual" });
    expect(disabled.disabledAt).toBeTruthy();
    // a disabled endpoint takes no retry, replay or test
    await expectProblem(await call("POST", `${path}/test`, { token: tenant.key }), 409, "WEBHOOK_ENDPOINT_DISABLED");
    const enabled = await json<Webhook>(await call("PATCH", path, { token: tenant.key, body: { status: "enabled" } }));
    expect(enabled).toMatchObject({ status: "enabled", disabledReason: null, disabledAt: null });
    const actions = await db
      .prepare("SELECT action FROM audit_events WHERE resource_id = ? ORDER BY seq")
      .bind(webhook.id)
      .all<{ action: string }>();
    expect(actions.results.map((r) => r.action)).toEqual([
      "webhook.created",
      "webhook.updated",
      "webhook.disabled",
      "webhook.enabled",
    ]);
  });

  it("rotates the secret: a new one shown once, the previous kept sealed for the overlap", async () => {
    const webhook = await created();
    const response = await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, { token: tenant.key });
    expect(response.status).toBe(200);
    const rotated = await json<Webhook & { previousSecretExpiresAt: string }>(response);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(webhook.secret);
    const overlap = Date.parse(rotated.previousSecretExpiresAt) - Date.parse(rotated.updatedAt);
    expect(overlap).toBe(Number(env.WEBHOOK_SECRET_OVERLAP_SECONDS) * 1000);
    const dump = await dumpDatabase(db);
    for (const secret of [webhook.secret as string, rotated.secret as string]) expect(dump).not.toContain(secret);
    expect(await count(db, "audit_events", "action = 'webhook.secret_rotated' AND resource_id = ?", webhook.id)).toBe(
      1,
    );
  });

  it("deletes an endpoint with its deliveries", async () => {
    const webhook = await created();
    const test = await call("POST", `/v1/webhooks/${webhook.id}/test`, { token: tenant.key });
    expect(test.status).toBe(202);
    expect((await call("DELETE", `/v1/webhooks/${webhook.id}`, { token: tenant.key })).status).toBe(204);
    await expectProblem(
      await call("GET", `/v1/webhooks/${webhook.id}`, { token: tenant.key }),
      404,
      "WEBHOOK_NOT_FOUND",
    );
    expect(await count(db, "webhook_deliveries", "endpoint_id = ?", webhook.id)).toBe(0);
    expect(await count(db, "audit_events", "action = 'webhook.deleted' AND resource_id = ?", webhook.id)).toBe(1);
  });

  it("refuses bad input with a clear problem and changes nothing", async () => {
    const before = await count(db, "webhook_endpoints");
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url: URL_A }, "events", "VALIDATION_FAILED"],
      [{ url: URL_A, events: [] }, "events", "VALIDATION_FAILED"],
      [{ url: URL_A, events: ["User.Created"] }, "events.0", "VALIDATION_FAILED"],
      [{ url: URL_A, events: ["user.**"] }, "events.0", "VALIDATION_FAILED"],
      [{ url: URL_A, events: ["user.created"], extra: 1 }, "", "VALIDATION_FAILED"],
      [{ events: ["user.created"] }, "url", "VALIDATION_FAILED"],
      [{ url: "not a url", events: ["user.created"] }, "url", "WEBHOOK_URL_NOT_ALLOWED"],
      [{ url: "ftp://example.com/x", events: ["user.created"] }, "url", "WEBHOOK_URL_NOT_ALLOWED"],
      [{ url: "http://example.com/x", events: ["user.created"] }, "url", "WEBHOOK_URL_NOT_ALLOWED"],
      [{ url: "https://user:pw@example.com/x", events: ["user.created"] }, "url", "WEBHOOK_URL_NOT_ALLOWED"],
    ];
    for (const [body, field, code] of cases) {
      const problem = await expectProblem(await create(body), 400, code);
      if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
    const http = await expectProblem(
      await create({ url: "http://example.com/x", events: ["user.created"] }),
      400,
      "WEBHOOK_URL_NOT_ALLOWED",
    );
    expect(http.detail).toMatch(/only https URLs are allowed \(http only to a loopback address in development\)/);
    const webhook = await created();
    await expectProblem(
      await call("PATCH", `/v1/webhooks/${webhook.id}`, { token: tenant.key, body: { url: "http://10.0.0.1/" } }),
      400,
      "WEBHOOK_URL_NOT_ALLOWED",
    );
    await expectProblem(
      await call("PATCH", `/v1/webhooks/${webhook.id}`, { token: tenant.key, body: { status: "gone" } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(await count(db, "webhook_endpoints")).toBe(before + 1);
    await expectProblem(await call("GET", "/v1/webhooks/whk_nope", { token: tenant.key }), 404, "WEBHOOK_NOT_FOUND");
    await expectProblem(
      await call("GET", `/v1/webhooks/${webhook.id}/deliveries?status=lost`, { token: tenant.key }),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(
      await call("POST", `/v1/webhooks/${webhook.id}/deliveries/dlv_nope/retry`, { token: tenant.key }),
      404,
      "WEBHOOK_DELIVERY_NOT_FOUND",
    );
  });

  it("reads with webhooks:read (the manager role) and writes only with webhooks:write", async () => {
    const webhook = await created();
    const manager = await createKey(tenant, ["manager"]);
    expect((await call("GET", "/v1/webhooks", { token: manager.secret })).status).toBe(200);
    expect((await call("GET", `/v1/webhooks/${webhook.id}/deliveries`, { token: manager.secret })).status).toBe(200);
    const refused = await expectProblem(
      await create({ url: URL_A, events: ["user.created"] }, manager.secret),
      403,
      "FORBIDDEN",
    );
    expect(refused.detail).toMatch(/webhooks:write/);
    await expectProblem(
      await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, { token: manager.secret }),
      403,
      "FORBIDDEN",
    );
    const basic = await createKey(tenant, ["basic"]);
    await expectProblem(await call("GET", "/v1/webhooks", { token: basic.secret }), 403, "FORBIDDEN");
  });
});

describe("the webhookEndpoints quota", () => {
  it("a free tenant gets one endpoint (403 QUOTA_EXCEEDED after), reported by GET /v1/plan", async () => {
    const free = await createTenant({ name: "Webhook quota", plan: "free" });
    const quota = async () =>
      (
        await json<{ quotas: { webhookEndpoints: { limit: number; used: number } } }>(
          await call("GET", "/v1/plan", { token: free.key }),
        )
      ).quotas.webhookEndpoints;
    expect(await quota()).toEqual({ limit: 1, used: 0 });
    const body = { url: URL_A, events: ["*"] };
    // two at once: the count is taken inside the insert, so only one can take the place
    const [a, b] = await Promise.all([create(body, free.key), create(body, free.key)]);
    expect([a.status, b.status].sort()).toEqual([201, 403]);
    const problem = await expectProblem(await create(body, free.key), 403, "QUOTA_EXCEEDED");
    expect(problem).toMatchObject({ quota: "webhookEndpoints", plan: "free", limit: 1, used: 1 });
    expect(await quota()).toEqual({ limit: 1, used: 1 });
    const freeDb = await tenantDatabase(free.id);
    expect(await count(freeDb, "audit_events", "action = 'webhook.created'")).toBe(1);
  });

  it("is the plan's: pro has 20", async () => {
    const pro = await createTenant({ name: "Webhook quota pro", plan: "pro" });
    const plan = await json<{ quotas: { webhookEndpoints: { limit: number } } }>(
      await call("GET", "/v1/plan", { token: pro.key }),
    );
    expect(plan.quotas.webhookEndpoints.limit).toBe(20);
  });

  it("the admin token is not a tenant credential here", async () => {
    await expectProblem(await call("GET", "/v1/webhooks", { token: ADMIN_TOKEN }), 403, "TENANT_CREDENTIAL_REQUIRED");
  });
});
