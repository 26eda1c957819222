import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, type TestTenant } from "../helpers/api";

// CORS per tenant: preflights are open (they carry no credential), actual responses name the origin only when
// the authenticated tenant's policy lists it.

const APP = "https://app.example.com";
const EVIL = "https://evil.example.net";

let tenant: TestTenant;
let other: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "CORS" });
  other = await createTenant({ name: "CORS other" });
  const put = await call("PUT", "/v1/security-policy", {
    token: tenant.key,
    body: { cors: { allowedOrigins: [APP] } },
  });
  expect(put.status).toBe(200);
});

function preflight(path: string, origin: string) {
  return call("OPTIONS", path, {
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type, idempotency-key",
    },
  });
}

function fromOrigin(method: string, path: string, origin: string | null, token: string | null = tenant.key) {
  return call(method, path, { token, headers: origin ? { origin } : {} });
}

const vary = (response: Response) => (response.headers.get("vary") ?? "").split(/\s*,\s*/).map((v) => v.toLowerCase());

describe("preflight (OPTIONS with Access-Control-Request-Method)", () => {
  it("is answered 204 for any origin and path, without a credential, and never with Allow-Credentials", async () => {
    for (const [path, origin] of [
      ["/v1/users", APP],
      ["/v1/users/usr_x/password", EVIL],
      ["/no/such/path", APP],
    ] as const) {
      const response = await preflight(path, origin);
      expect(response.status, path).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(response.headers.get("access-control-allow-methods")).toContain("POST");
      expect(response.headers.get("access-control-allow-methods")).toContain("PATCH");
      expect(response.headers.get("access-control-allow-headers")).toBe(
        "authorization, content-type, idempotency-key, if-match, if-none-match, uom-account, uom-version",
      );
      expect(response.headers.get("access-control-max-age")).toBe("600");
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
      expect(vary(response)).toContain("origin");
      expect(response.headers.get("x-request-id")).toBeTruthy();
    }
  });
});

describe("actual responses", () => {
  it("an origin the tenant allows may read the response: Allow-Origin names it, with Vary and exposed headers", async () => {
    const response = await fromOrigin("GET", "/v1/users", APP);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(vary(response)).toContain("origin");
    const exposed = (response.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const header of ["etag", "x-request-id", "idempotent-replayed", "retry-after", "uom-version", "deprecation"])
      expect(exposed).toContain(header);
    // problems too, so the page can show why
    const missing = await fromOrigin("GET", "/v1/users/usr_missing", APP);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("an origin the tenant does not list gets no CORS header (the browser withholds the response)", async () => {
    const response = await fromOrigin("GET", "/v1/users", EVIL);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-expose-headers")).toBeNull();
    expect(vary(response)).toContain("origin");
    // an origin allowed by another tenant does nothing for this one
    const elsewhere = await fromOrigin("GET", "/v1/users", APP, other.key);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("no credential, or a bad one: no CORS header even for an allowed origin", async () => {
    for (const token of [null, "uom_sk_not_a_real_key"]) {
      const response = await fromOrigin("GET", "/v1/users", APP, token);
      expect(response.status).toBe(401);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("a same-origin request (no Origin header) gets no CORS header", async () => {
    const response = await fromOrigin("GET", "/v1/users", null);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("public documents allow any origin with *", async () => {
    for (const path of ["/health", "/v1/openapi.json"]) {
      const response = await fromOrigin("GET", path, EVIL, null);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("access-control-allow-origin"), path).toBe("*");
    }
  });

  it("follows a policy change: an origin removed stops working, one added starts", async () => {
    const changing = await createTenant({ name: "CORS changing" });
    const setOrigins = (allowedOrigins: string[]) =>
      call("PUT", "/v1/security-policy", { token: changing.key, body: { cors: { allowedOrigins } } });
    const allowOrigin = async (origin: string) =>
      (await fromOrigin("GET", "/v1/users", origin, changing.key)).headers.get("access-control-allow-origin");

    expect(await allowOrigin(APP)).toBeNull();
    expect((await setOrigins([APP, "http://localhost:5173"])).status).toBe(200);
    expect(await allowOrigin(APP)).toBe(APP);
    expect(await allowOrigin("http://localhost:5173")).toBe("http://localhost:5173");
    expect((await setOrigins(["http://localhost:5173"])).status).toBe(200);
    expect(await allowOrigin(APP)).toBeNull();
    expect(await allowOrigin("http://localhost:5173")).toBe("http://localhost:5173");
  });
});
