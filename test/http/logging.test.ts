import { env } from "cloudflare:test";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { app } from "../../src/app";
import { loggableError } from "../../src/core/http/error-handler";
import { requestId } from "../../src/core/http/request-id";
import { requestLog } from "../../src/core/http/request-log";
import type { AppEnv } from "../../src/env";
import { ADMIN_TOKEN, createTenant } from "../helpers/api";

/**
 * Tests run with LOG_LEVEL=silent, so these drive the real app in-process (`app.request`) with the same
 * bindings but LOG_LEVEL=info, and read what it writes to the console.
 */
const loud = { ...env, LOG_LEVEL: "info" } as Env;
const quiet = { ...env, LOG_LEVEL: "silent" } as Env;

let log: MockInstance<typeof console.log>;
let error: MockInstance<typeof console.error>;

beforeEach(() => {
  log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  error = vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

function lines(spy: MockInstance<(...args: unknown[]) => void>): Record<string, unknown>[] {
  return spy.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
}

function request(path: string, init: RequestInit = {}, bindings: Env = loud) {
  return app.request(`http://uom.test${path}`, init, bindings);
}

describe("the request log", () => {
  it("writes exactly one JSON line per request, with the route template and the caller", async () => {
    const tenant = await createTenant({ name: "Logged" });
    log.mockClear();
    const response = await request(`/v1/tenants/${tenant.id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "x-request-id": "log-test-0001" },
    });
    expect(response.status).toBe(200);
    const written = lines(log);
    expect(written).toHaveLength(1);
    expect(written[0]).toEqual({
      level: "info",
      msg: "request",
      time: expect.any(String),
      requestId: "log-test-0001",
      method: "GET",
      path: `/v1/tenants/${tenant.id}`,
      route: "GET /v1/tenants/{id}",
      status: 200,
      durationMs: expect.any(Number),
      tenantId: null,
      actor: "admin:admin",
    });
    expect(Date.parse(written[0]?.time as string)).not.toBeNaN();

    log.mockClear();
    await request("/v1/users", { headers: { authorization: `Bearer ${tenant.key}` } });
    expect(lines(log)).toEqual([
      expect.objectContaining({
        route: "GET /v1/users",
        status: 200,
        tenantId: tenant.id,
        actor: `api_key:${tenant.keyId}`,
      }),
    ]);
  });

  it("logs problems too: unauthenticated, unknown routes (no route), one line each", async () => {
    await request("/v1/users");
    await request("/nowhere");
    const written = lines(log);
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({ status: 401, route: "GET /v1/users", tenantId: null, actor: null });
    expect(written[1]).toMatchObject({ status: 404, route: null, path: "/nowhere" });
    // the request id in the log is the one the client got
    const response = await request("/health");
    expect(lines(log)[2]?.requestId).toBe(response.headers.get("x-request-id"));
  });

  it("a 5xx is logged at level error, with the cause on console.error (never in the response)", async () => {
    const tenant = await createTenant({ name: "Broken" });
    const binding = (await env.CONTROL_DB.prepare("SELECT database_binding AS b FROM tenants WHERE id = ?")
      .bind(tenant.id)
      .first<{ b: string }>()) as { b: string };
    await (env as unknown as Record<string, D1Database>)[binding.b]?.prepare("DROP TABLE users").run();
    log.mockClear();
    const response = await request("/v1/users", { headers: { authorization: `Bearer ${tenant.key}` } });
    expect(response.status).toBe(500);
    expect(lines(log)).toEqual([expect.objectContaining({ level: "error", status: 500 })]);
    const [failure] = lines(error);
    expect(failure).toMatchObject({
      level: "error",
      msg: "unhandled error",
      code: "INTERNAL",
      requestId: response.headers.get("x-request-id"),
    });
    // the driver's cause is there; the query's bound parameters (personal data, often) are not
    expect(JSON.stringify(failure)).toMatch(/no such table/);
    expect(JSON.stringify(failure)).not.toMatch(/params:/);
    expect(await response.text()).not.toMatch(/no such table/);
  });

  it("loggableError keeps the cause chain and drops query parameters, from the stack too", () => {
    const cause = new Error("D1_ERROR: UNIQUE constraint failed: users.email_normalized");
    const error = new DrizzleQueryError("insert into users values (?, ?)", ["usr_1", "ada@example.com"], cause);
    const logged = JSON.stringify(loggableError(new Error("outer", { cause: error })));
    expect(logged).toContain("UNIQUE constraint failed");
    expect(logged).toContain("insert into users values (?, ?)");
    expect(logged).not.toContain("ada@example.com");
    expect(loggableError("a string")).toBe("a string");
  });

  it("LOG_LEVEL=silent writes nothing, errors included", async () => {
    await request("/health", {}, quiet);
    await request("/v1/users", {}, quiet);
    await request("/nowhere", {}, quiet);
    expect(log).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  it("the middleware on its own: one line for a handler that throws", async () => {
    const tiny = new Hono<AppEnv>();
    tiny.use("*", requestId(), requestLog());
    tiny.get("/boom/:id", () => {
      throw new Error("boom");
    });
    tiny.onError((_, c) => c.text("no", 500));
    const response = await tiny.request("/boom/7", {}, { LOG_LEVEL: "info" });
    expect(response.status).toBe(500);
    expect(lines(log)).toEqual([
      expect.objectContaining({ level: "error", status: 500, route: "GET /boom/{id}", path: "/boom/7" }),
    ]);
  });
});
