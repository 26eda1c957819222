import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { isPermission } from "../../src/core/auth/permissions";
import { call, json } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";
import {
  badCredentials,
  concretePath,
  createSecurityWorld,
  type PublicRoute,
  problemMismatch,
  routeTable,
  type SecuredRoute,
  type SecurityWorld,
  send,
  tokenFor,
} from "../helpers/security";

/**
 * Runs the shared security checks on every route of the served OpenAPI document. Nothing here names a
 * route: a new route is checked as soon as it is documented, and one the checks cannot handle fails.
 */

let world: SecurityWorld;
let secured: SecuredRoute[];
let open: PublicRoute[];
let tableProblems: string[];

beforeAll(async () => {
  world = await createSecurityWorld();
  ({ secured, open, problems: tableProblems } = await routeTable());
});

const label = (route: { method: string; path: string }) => `${route.method} ${route.path}`;
/** The checks below send several requests to every route (80 and more), each authenticated for real. */
const WALK_TIMEOUT = 180_000;

/** Tenant a's subtree as the control database holds it: a sub-account's key must never change it. */
async function subtreeOfA(): Promise<string> {
  const { results } = await env.CONTROL_DB.prepare(
    "SELECT * FROM tenants WHERE id = ?1 OR parent_id = ?1 OR parent_id IN (SELECT id FROM tenants WHERE parent_id = ?1) ORDER BY id",
  )
    .bind(world.a.id)
    .all();
  return JSON.stringify(results);
}

/** The ids of tenant a's rows (users, audit events, …): none may ever appear in an answer to tenant b. */
async function idsOfTenantA(): Promise<string[]> {
  const dump = await dumpDatabase(await tenantDatabase(world.a.id));
  return [...new Set(dump.match(/\b[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}\b/g) ?? [])];
}

describe("the route table", () => {
  it("is derived from the document, covers every served route, and every route declares its credential", () => {
    expect(tableProblems).toEqual([]);
    const table = new Set([...secured, ...open].map(label));
    const served = app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(served.filter((r) => !table.has(r))).toEqual([]);
    // not vacuous: both kinds of route, with and without path parameters
    expect(secured.some((r) => r.credentials.includes("admin") && r.path.includes("{"))).toBe(true);
    expect(secured.some((r) => r.credentials.includes("tenant") && r.path.includes("{"))).toBe(true);
  });
});

describe("every credentialed route", () => {
  it(
    "refuses a missing, malformed or unknown credential with a 401 problem",
    async () => {
      const failures: string[] = [];
      for (const route of secured) {
        const path = await concretePath(route, world);
        for (const { what, authorization } of badCredentials(world)) {
          const response = await send(route, path, authorization);
          const hasChallenge = response.headers.get("www-authenticate")?.startsWith("Bearer");
          const codes = authorization ? ["UNAUTHENTICATED", "INVALID_CREDENTIAL"] : ["UNAUTHENTICATED"];
          const issues = await problemMismatch(response, 401, codes, route);
          if (!hasChallenge) issues.push("no WWW-Authenticate: Bearer challenge");
          if (issues.length > 0) failures.push(`${label(route)} with ${what}: ${issues.join("; ")}`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );

  it(
    "refuses the wrong kind of credential with 403: the admin token on tenant routes, a tenant key on admin ones",
    async () => {
      const failures: string[] = [];
      let checked = 0;
      for (const route of secured) {
        const path = await concretePath(route, world);
        if (!route.credentials.includes("admin")) {
          checked++;
          const issues = await problemMismatch(
            await send(route, path, `Bearer ${tokenFor("admin", world)}`),
            403,
            ["TENANT_CREDENTIAL_REQUIRED"],
            route,
          );
          if (issues.length > 0) failures.push(`${label(route)} with the admin token: ${issues.join("; ")}`);
        }
        if (!route.credentials.includes("tenant")) {
          checked++;
          const issues = await problemMismatch(
            await send(route, path, `Bearer ${tokenFor("tenant", world)}`),
            403,
            ["ADMIN_CREDENTIAL_REQUIRED"],
            route,
          );
          if (issues.length > 0) failures.push(`${label(route)} with a tenant key: ${issues.join("; ")}`);
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThan(0);
    },
    WALK_TIMEOUT,
  );

  it(
    "lets every accepted kind of credential through on reads",
    async () => {
      const failures: string[] = [];
      for (const route of secured.filter((r) => r.method === "GET")) {
        for (const kind of route.credentials) {
          const path = await concretePath(route, world);
          const response = await send(route, path, `Bearer ${tokenFor(kind, world)}`);
          if (response.status >= 400) failures.push(`${label(route)} with ${kind}: ${response.status}`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});

describe("permissions on every tenant route", () => {
  it("every route a tenant credential may call names its permission, from the catalogue", () => {
    const tenantRoutes = secured.filter((r) => r.credentials.includes("tenant"));
    expect(tenantRoutes.length).toBeGreaterThan(0);
    expect(tenantRoutes.filter((r) => !r.permission || !isPermission(r.permission)).map(label)).toEqual([]);
  });

  it(
    "refuses a tenant credential without the route's permission with 403, and changes nothing",
    async () => {
      // a key of tenant a whose only role grants no permission at all (a custom role: even `basic` has me:read)
      const role = await call("POST", "/v1/roles", {
        token: world.a.key,
        body: { name: "powerless", description: "Grants nothing", permissions: [] },
      });
      expect(role.status).toBe(201);
      const created = await call("POST", "/v1/api-keys", {
        token: world.a.key,
        body: { name: "No permissions", roles: ["powerless"] },
      });
      expect(created.status).toBe(201);
      const powerless = `Bearer ${(await json<{ secret: string }>(created)).secret}`;
      const dbA = await tenantDatabase(world.a.id);
      const failures: string[] = [];
      for (const route of secured.filter((r) => r.credentials.includes("tenant"))) {
        const path = await concretePath(route, world);
        const before = await dumpDatabase(dbA);
        const issues = await problemMismatch(await send(route, path, powerless), 403, ["FORBIDDEN"], route);
        if ((await dumpDatabase(dbA)) !== before) issues.push("tenant a's database changed");
        if (issues.length > 0) failures.push(`${label(route)}: ${issues.join("; ")}`);
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});

describe("tenant isolation on every tenant route", () => {
  it(
    "another tenant's resource is 404, never touched; its owner reaches it",
    async () => {
      const failures: string[] = [];
      // SCIM discovery ids (schema URNs, resource types) name documents every tenant has: nothing to isolate
      const withParams = secured.filter(
        (r) => r.credentials.includes("tenant") && r.path.includes("{") && !r.sharedResource,
      );
      expect(withParams.length).toBeGreaterThan(0);
      const dbA = await tenantDatabase(world.a.id);
      for (const route of withParams) {
        const path = await concretePath(route, world);
        const before = await dumpDatabase(dbA);
        const issues = await problemMismatch(await send(route, path, `Bearer ${world.b.key}`), 404, undefined, route);
        if ((await dumpDatabase(dbA)) !== before) issues.push("tenant a's database changed");
        if (issues.length > 0) failures.push(`${label(route)} ${path} with tenant b's key: ${issues.join("; ")}`);

        // the same call by the owner is not a 404: the fixture named a real resource, so the 404 above meant isolation
        const own = await send(route, path, `Bearer ${world.a.key}`);
        if (own.status === 404 || own.status === 401 || own.status === 403) {
          failures.push(`${label(route)} ${path} with tenant a's own key: ${own.status} (the fixture is not real)`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );

  it(
    "a sub-account's key on its parent's ids → 404, never touched (its sibling's tenant id too)",
    async () => {
      const failures: string[] = [];
      const withParams = secured.filter(
        (r) => r.credentials.includes("tenant") && r.path.includes("{") && !r.sharedResource,
      );
      const dbA = await tenantDatabase(world.a.id);
      const child = `Bearer ${world.aChild.key}`;
      for (const route of withParams) {
        // the fixtures name a's resources; a tenant route's fixture names a's other sub-account, so a itself too
        const paths = [await concretePath(route, world)];
        if (route.path.startsWith("/v1/tenants/{id}")) paths.push(route.path.replace("{id}", world.a.id));
        for (const path of paths) {
          const before = [await dumpDatabase(dbA), await subtreeOfA()];
          const issues = await problemMismatch(await send(route, path, child), 404, undefined, route);
          if ((await dumpDatabase(dbA)) !== before[0]) issues.push("tenant a's database changed");
          if ((await subtreeOfA()) !== before[1]) issues.push("tenant a's subtree changed");
          if (issues.length > 0)
            failures.push(`${label(route)} ${path} with a's sub-account's key: ${issues.join("; ")}`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );

  it(
    "a sub-account's key naming its parent in Uom-Account → 404 ACCOUNT_NOT_FOUND on every tenant route",
    async () => {
      const failures: string[] = [];
      const dbA = await tenantDatabase(world.a.id);
      const child = `Bearer ${world.aChild.key}`;
      for (const route of secured.filter((r) => r.credentials.includes("tenant"))) {
        const path = route.path.includes("{") ? await concretePath(route, world) : route.path;
        const before = await dumpDatabase(dbA);
        const response = await send(route, path, child, { "Uom-Account": world.a.id });
        const issues = await problemMismatch(
          response,
          404,
          route.scimErrors ? undefined : ["ACCOUNT_NOT_FOUND"],
          route,
        );
        if ((await dumpDatabase(dbA)) !== before) issues.push("tenant a's database changed");
        if (issues.length > 0) failures.push(`${label(route)}: ${issues.join("; ")}`);
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );

  it(
    "no answer to tenant b carries an id of tenant a's",
    async () => {
      const ids = await idsOfTenantA();
      expect(ids.some((id) => id.startsWith("usr_"))).toBe(true);
      const failures: string[] = [];
      for (const route of secured.filter((r) => r.method === "GET" && r.credentials.includes("tenant"))) {
        const path = route.path.includes("{") ? await concretePath(route, world) : `${route.path}?limit=1000`;
        const text = await (await send(route, path, `Bearer ${world.b.key}`)).text();
        const leaked = ids.filter((id) => text.includes(id) && !path.includes(id));
        if (leaked.length > 0) failures.push(`${label(route)}: ${leaked.join(", ")}`);
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});

describe("every public route", () => {
  it("answers without a credential; the OAuth endpoints, client-authenticated, refuse an anonymous call the RFC 6749 way", async () => {
    expect(open.map(label)).toEqual(expect.arrayContaining(["GET /health", "GET /v1/openapi.json"]));
    const failures: string[] = [];
    for (const route of open) {
      if (route.path.includes("{")) {
        failures.push(`${label(route)}: public route with path parameters; extend this check`);
        continue;
      }
      const response = await call(route.method, route.path);
      if (route.method === "GET") {
        if (response.status >= 400) failures.push(`${label(route)}: ${response.status}`);
        continue;
      }
      // POST /oauth/token, /oauth/introspect, /oauth/revoke: no client authentication → 400 or 401 with {error}
      const body = (await response.json().catch(() => ({}))) as { error?: unknown };
      if (![400, 401].includes(response.status) || typeof body.error !== "string") {
        failures.push(`${label(route)}: ${response.status} ${JSON.stringify(body)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
