import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant } from "../helpers/api";
import { clientCredentials, createClient } from "../oauth/support";

/** Public documents through the Cache API: the second request of a location is served from its cache. */

async function untilHit(path: string): Promise<Response> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await call("GET", path);
    if (response.headers.get("uom-cache") === "hit") return response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${path} was never served from the cache`);
}

describe("public documents", () => {
  it("the OpenAPI document and the API reference: a miss, then hits, public with a max-age", async () => {
    for (const path of ["/v1/openapi.json", "/docs"]) {
      const first = await call("GET", path);
      expect(first.status).toBe(200);
      expect(first.headers.get("cache-control")).toBe("public, max-age=60");
      // the first response is put in the cache after it is sent (waitUntil)
      const second = await untilHit(path);
      expect(await second.text()).toBe(await first.text());
      // each response still has its own request id
      expect(second.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    }
  });

  it("the JWKS is cached once it has a key, and a rotation shows its new key at once", async () => {
    const tenant = await createTenant({ name: "Jwks" });
    await clientCredentials(await createClient(tenant));
    await call("GET", "/.well-known/jwks.json");
    const cached = await untilHit("/.well-known/jwks.json");
    expect(cached.headers.get("cache-control")).toBe("public, max-age=300");
    const rotated = await call("POST", "/v1/oauth/signing-keys/rotate", { token: ADMIN_TOKEN, body: {} });
    expect(rotated.status).toBe(201);
    const { kid } = (await rotated.json()) as { kid: string };
    const after = await call("GET", "/.well-known/jwks.json");
    expect(after.headers.get("uom-cache")).toBe("miss");
    expect(((await after.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toContain(kid);
  });
});
