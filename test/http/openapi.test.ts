import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { call, json } from "../helpers/api";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema?: Json; example?: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Json; example?: Json }> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
let doc: Document;

beforeAll(async () => {
  const response = await call("GET", "/v1/openapi.json");
  if (response.status !== 200) {
    // The answer is a generic 500 problem; build the document here to show the generator's own error.
    app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "probe", version: "0" } });
  }
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  doc = await json<Document>(response);
});

function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  );
}

/** Every `$ref` anywhere in a value. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, found);
  else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string") found.push(v);
      else refs(v, found);
    }
  }
  return found;
}

/** Whether a schema or media type carries an example, following $refs into components. */
function hasExample(value: unknown, seen = new Set<string>()): boolean {
  if (Array.isArray(value)) return value.some((v) => hasExample(v, seen));
  if (!value || typeof value !== "object") return false;
  const record = value as Record<string, unknown>;
  if ("example" in record || "examples" in record) return true;
  const ref = record.$ref;
  if (typeof ref === "string") {
    const name = ref.split("/").at(-1) as string;
    if (seen.has(name)) return false;
    seen.add(name);
    return hasExample(doc.components.schemas[name], seen);
  }
  return Object.values(record).some((v) => hasExample(v, seen));
}

describe("GET /v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document describing this deployment", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "User Ops Manager API", version: expect.any(String) });
    expect(doc.servers).toEqual([expect.objectContaining({ url: "http://uom.test" })]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("documents every route the app serves, and nothing it does not", () => {
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`));
    expect(served.size).toBeGreaterThan(10);
    expect(
      [...served].filter((r) => !documented.has(r)),
      "served but not documented",
    ).toEqual([]);
    expect(
      [...documented].filter((r) => !served.has(r)),
      "documented but not served",
    ).toEqual([]);
  });

  it("every $ref resolves, operationIds are unique, tags and path parameters are declared", () => {
    for (const ref of refs(doc)) {
      const match = /^#\/components\/(schemas|securitySchemes)\/(.+)$/.exec(ref);
      expect(match, ref).not.toBeNull();
      const [, kind, name] = match as RegExpExecArray;
      expect(doc.components[kind as "schemas"][name as string], ref).toBeDefined();
    }
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === "string")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      for (const tag of op.tags ?? []) expect(tags.has(tag), `${where}: tag ${tag}`).toBe(true);
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(op.parameters, where).toContainEqual(expect.objectContaining({ name, in: "path", required: true }));
      }
      for (const requirement of op.security ?? []) {
        for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes[scheme]).toBeDefined();
      }
    }
  });

  it("every operation answers problems as application/problem+json, each with an example", () => {
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      const problems = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
      expect(problems.length, where).toBeGreaterThan(0);
      expect(Object.keys(op.responses), where).toContain("500");
      if (op.security?.length) expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(["401", "403"]));
      if (op.requestBody) {
        // JSON bodies refuse other media types with 415; the OAuth form endpoints answer 400 invalid_request
        const json = "application/json" in (op.requestBody.content ?? {});
        expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(json ? ["400", "415"] : ["400"]));
      }
      for (const [status, response] of problems) {
        // the OAuth endpoints answer their own errors with RFC 6749 §5.2 bodies (DESIGN.md convention 1)
        const oauthError = path.startsWith("/oauth/") ? response.content?.["application/json"] : undefined;
        if (oauthError) {
          expect(oauthError.schema, `${where} ${status}`).toEqual({ $ref: "#/components/schemas/OAuthError" });
          continue;
        }
        // /scim/v2 answers RFC 7644 §3.12 SCIM error bodies, which SCIM clients parse
        if (path.startsWith("/scim/v2/")) {
          const scim = response.content?.["application/scim+json"];
          expect(scim?.schema, `${where} ${status}`).toEqual({ $ref: "#/components/schemas/ScimError" });
          expect(scim?.example, `${where} ${status}`).toMatchObject({ status: status });
          continue;
        }
        const media = response.content?.["application/problem+json"];
        expect(media?.schema, `${where} ${status}`).toEqual({ $ref: "#/components/schemas/Problem" });
        expect(media?.example, `${where} ${status}`).toMatchObject({
          status: Number(status),
          code: expect.any(String),
        });
      }
    }
  });

  it("every request body and every JSON success body carries an example", () => {
    const missing: string[] = [];
    for (const { method, path, op } of operations()) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        if (!hasExample(media)) missing.push(`${method} ${path} request ${type}`);
      }
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 300) continue;
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (!hasExample(media)) missing.push(`${method} ${path} ${status} ${type}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("is the same document on every request", async () => {
    const again = await json(await call("GET", "/v1/openapi.json"));
    expect(again).toEqual(doc);
  });
});

describe("GET /docs", () => {
  it("serves the interactive reference as HTML, pointing at the document", async () => {
    const response = await call("GET", "/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain("/v1/openapi.json");
  });
});
