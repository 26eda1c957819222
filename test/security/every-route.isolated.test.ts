import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { isPermission } from "../../src/core/auth/permissions";
import { pluginRegistry } from "../../src/core/plugins/active";
import { call } from "../helpers/api";
import {
  badCredentials,
  concretePath,
  createSecurityWorld,
  type PublicRoute,
  problemMismatch,
  routeLabel,
  routeTable,
  type SecuredRoute,
  type SecurityWorld,
  send,
  tokenFor,
  WALK_TIMEOUT,
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

describe("the route table", () => {
  it("is derived from the document, covers every served route, and every route declares its credential", () => {
    expect(tableProblems).toEqual([]);
    const table = new Set([...secured, ...open].map(routeLabel));
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
          if (issues.length > 0) failures.push(`${routeLabel(route)} with ${what}: ${issues.join("; ")}`);
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
          if (issues.length > 0) failures.push(`${routeLabel(route)} with the admin token: ${issues.join("; ")}`);
        }
        if (!route.credentials.includes("tenant")) {
          checked++;
          const issues = await problemMismatch(
            await send(route, path, `Bearer ${tokenFor("tenant", world)}`),
            403,
            ["ADMIN_CREDENTIAL_REQUIRED"],
            route,
          );
          if (issues.length > 0) failures.push(`${routeLabel(route)} with a tenant key: ${issues.join("; ")}`);
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
          if (response.status >= 400) failures.push(`${routeLabel(route)} with ${kind}: ${response.status}`);
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
    // a plugin's routes may name the permissions it declares (docs/plugins.md)
    const known = (p: string) => isPermission(p) || pluginRegistry().permissions.has(p);
    expect(tenantRoutes.filter((r) => !r.permission || !known(r.permission)).map(routeLabel)).toEqual([]);
  });
});

describe("every public route", () => {
  it("answers without a credential; the OAuth endpoints, client-authenticated, refuse an anonymous call the RFC 6749 way", async () => {
    expect(open.map(routeLabel)).toEqual(expect.arrayContaining(["GET /health", "GET /v1/openapi.json"]));
    const failures: string[] = [];
    for (const route of open) {
      if (route.path.includes("{")) {
        failures.push(`${routeLabel(route)}: public route with path parameters; extend this check`);
        continue;
      }
      const response = await call(route.method, route.path);
      // a signed link (the unsubscribe link) without its token, or a plugin's public route without its tenant in the
      // query (docs/plugins.md): a 400 problem and nothing done
      if (route.tokenAuthentication || route.path.startsWith("/v1/plugins/")) {
        const type = response.headers.get("content-type") ?? "";
        await response.body?.cancel();
        if (response.status !== 400 || !type.startsWith("application/problem+json")) {
          failures.push(`${routeLabel(route)} without its token or tenant: ${response.status}`);
        }
        continue;
      }
      if (route.method === "GET") {
        if (response.status >= 400) failures.push(`${routeLabel(route)}: ${response.status}`);
        continue;
      }
      // POST /oauth/token, /oauth/introspect, /oauth/revoke: no client authentication → 400 or 401 with {error}
      const body = (await response.json().catch(() => ({}))) as { error?: unknown };
      if (![400, 401].includes(response.status) || typeof body.error !== "string") {
        failures.push(`${routeLabel(route)}: ${response.status} ${JSON.stringify(body)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
