import { env } from "cloudflare:test";
import {
  decodeJwt,
  decodeProtectedHeader,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { open } from "../../src/core/crypto/sealed-box";
import { call, createTenant, createUser, expectProblem, type TestTenant } from "../helpers/api";
import { clientCredentials, createClient, ISSUER, introspect, type TestClient } from "./support";

/**
 * Forged and doctored access tokens: each must be refused with 401 on an ordinary API call. Tokens with
 * wrong claims are signed with the server's real private key (read from D1 and unsealed as the worker does),
 * so what refuses them is the claim check, not the signature.
 */

let a: TestTenant;
let b: TestTenant;
let client: TestClient;
let genuine: string;
let claims: JWTPayload;
let kid: string;
let serverKey: CryptoKey;
let publicJwk: JsonWebKey;

const b64url = (text: string) => btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
const part = (value: unknown) => b64url(JSON.stringify(value));

beforeAll(async () => {
  a = await createTenant({ name: "Attacked" });
  b = await createTenant({ name: "Other" });
  client = await createClient(a, { roles: ["manager"] });
  genuine = (await clientCredentials(client)).access_token;
  claims = decodeJwt(genuine);
  kid = decodeProtectedHeader(genuine).kid as string;
  const row = await env.CONTROL_DB.prepare("SELECT public_jwk, private_sealed FROM signing_keys WHERE kid = ?")
    .bind(kid)
    .first<{ public_jwk: string; private_sealed: string }>();
  if (!row) throw new Error("the signing key is not in D1");
  publicJwk = JSON.parse(row.public_jwk) as JsonWebKey;
  const privateJwk = JSON.parse(await open(env.MASTER_KEY, "uom/signing-key/v1", kid, row.private_sealed));
  serverKey = (await importJWK(privateJwk, "ES256")) as CryptoKey;
});

async function signed(payload: JWTPayload, header: Record<string, unknown> = {}, key: CryptoKey = serverKey) {
  return new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt", ...header }).sign(key);
}

async function expectRefused(token: string) {
  const response = await call("GET", "/v1/users", { token });
  expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  await expectProblem(response, 401, "INVALID_CREDENTIAL");
}

describe("the genuine token", () => {
  it("works, and a copy re-signed by the test with the server's key works too (the forgeries below are fair)", async () => {
    expect((await call("GET", "/v1/users", { token: genuine })).status).toBe(200);
    expect((await call("GET", "/v1/users", { token: await signed(claims) })).status).toBe(200);
  });
});

describe("JWT attacks, each refused with 401", () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("alg: none", async () => {
    await expectRefused(`${part({ alg: "none", typ: "at+jwt", kid })}.${part(claims)}.`);
    await expectRefused(`${part({ alg: "none", typ: "at+jwt" })}.${part(claims)}.`);
  });

  it("HS256 signed with the public key as the HMAC secret", async () => {
    const pem = await exportSPKI((await importJWK(publicJwk, "ES256")) as CryptoKey);
    for (const secret of [JSON.stringify(publicJwk), pem]) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
        .sign(new TextEncoder().encode(secret));
      await expectRefused(token);
    }
  });

  it("expired (and introspection calls it inactive)", async () => {
    const expired = await signed({ ...claims, iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 });
    await expectRefused(expired);
    expect(await introspect(client, expired)).toEqual({ active: false });
  });

  it("not yet valid (nbf in the future)", async () => {
    await expectRefused(await signed({ ...claims, nbf: now() + 3600 }));
  });

  it("wrong issuer", async () => {
    await expectRefused(await signed({ ...claims, iss: "https://evil.example" }));
  });

  it("wrong audience", async () => {
    await expectRefused(await signed({ ...claims, aud: "https://evil.example/v1" }));
    await expectRefused(await signed({ ...claims, aud: ISSUER.origin }));
  });

  it("unknown kid, or a known kid on another key's signature", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    await expectRefused(await signed(claims, { kid: "sig_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }, privateKey));
    await expectRefused(await signed(claims, {}, privateKey));
    await expectRefused(await signed(claims, { kid: undefined }));
  });

  it("tampered payload: scope widened", async () => {
    const [header, , signature] = genuine.split(".");
    await expectRefused(`${header}.${part({ ...claims, scope: "users:read api-keys:write" })}.${signature}`);
  });

  it("tampered payload: tenant A's token with tid edited to tenant B", async () => {
    const [header, , signature] = genuine.split(".");
    await expectRefused(`${header}.${part({ ...claims, tid: b.id })}.${signature}`);
  });

  it("another token type (typ JWT, not at+jwt: RFC 9068 §4), or a claim missing", async () => {
    await expectRefused(await signed(claims, { typ: "JWT" }));
    const { jti: _jti, ...withoutJti } = claims;
    await expectRefused(await signed(withoutJti));
    const { sub: _sub, ...withoutSub } = claims;
    await expectRefused(await signed(withoutSub));
  });

  it("a signed token naming a tenant that does not exist", async () => {
    await expectRefused(await signed({ ...claims, tid: "ten_01JD8Z6Q1W3V8K2N4T5R6Y7P9A" }));
  });
});

describe("tenant isolation", () => {
  it("tenant A's valid token reaching tenant B's user is 404, never B's data", async () => {
    const user = await createUser(b);
    const response = await call("GET", `/v1/users/${user.id}`, { token: genuine });
    await expectProblem(response, 404);
    const own = await call("GET", `/v1/users/${user.id}`, { token: b.key });
    expect(own.status).toBe(200);
  });
});
