import { beforeAll, describe, expect, it } from "vitest";
import { FEATURES, type Feature, PLAN_CONFIG, requiredPlan } from "../../src/core/plans";
import { call, createTenant, json, type TestTenant } from "../helpers/api";
import { changedTables, dumpDatabase, tenantDatabase } from "../helpers/db";
import {
  concretePath,
  createSecurityWorld,
  problemMismatch,
  routeLabel,
  routeTable,
  type SecuredRoute,
  type SecurityWorld,
  send,
  WALK_TIMEOUT,
} from "../helpers/security";

/**
 * The access rules of issue 5 on every tenant route of the served OpenAPI document: the permission each route
 * declares is the one it needs (without it 403, with it alone not 403), and the plan feature it declares is
 * gated (a free tenant on a premium route: 403 FEATURE_NOT_IN_PLAN). Nothing here names a route.
 */

let world: SecurityWorld;
let tenantRoutes: SecuredRoute[];

beforeAll(async () => {
  world = await createSecurityWorld();
  tenantRoutes = (await routeTable()).secured.filter((r) => r.credentials.includes("tenant"));
});

/** An API key of tenant a whose only role is a fresh custom role granting exactly `grants`. */
async function keyGranting(tenant: TestTenant, grants: string[]): Promise<string> {
  const name = `only-${crypto.randomUUID().slice(0, 8)}`;
  const role = await call("POST", "/v1/roles", { token: tenant.key, body: { name, permissions: grants } });
  if (role.status !== 201) throw new Error(`POST /v1/roles answered ${role.status}: ${await role.text()}`);
  const key = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name, roles: [name] } });
  if (key.status !== 201) throw new Error(`POST /v1/api-keys answered ${key.status}: ${await key.text()}`);
  return (await json<{ secret: string }>(key)).secret;
}

describe("plan features on every tenant route", () => {
  it("every tenant route declares a known feature", () => {
    expect(tenantRoutes.length).toBeGreaterThan(0);
    expect(tenantRoutes.filter((r) => !r.feature || !Object.hasOwn(FEATURES, r.feature)).map(routeLabel)).toEqual([]);
  });

  it(
    "a free tenant gets 403 FEATURE_NOT_IN_PLAN naming the plan that has it on every premium route, and nothing changes",
    async () => {
      const free = await createTenant({ name: "Free tenant", plan: "free" });
      const dbFree = await tenantDatabase(free.id);
      const premium = tenantRoutes.filter((r) => !PLAN_CONFIG.free.features.includes(r.feature as Feature));
      expect(premium.length).toBeGreaterThan(0);
      const failures: string[] = [];
      for (const route of tenantRoutes) {
        const path = await concretePath(route, world);
        const before = await dumpDatabase(dbFree);
        const response = await send(route, path, `Bearer ${free.key}`);
        if (premium.includes(route)) {
          const feature = route.feature as Feature;
          const body = await response.clone().text();
          const issues = await problemMismatch(response, 403, ["FEATURE_NOT_IN_PLAN"], route);
          if (!issues.length && route.scimErrors) {
            // a SCIM error body (RFC 7644 §3.12) has no code: its detail names the plan
            const error = JSON.parse(body) as { detail?: string };
            if (!error.detail?.includes(`comes with ${requiredPlan(feature)}`)) issues.push(`detail ${error.detail}`);
          } else if (!issues.length) {
            const problem = JSON.parse(body) as { requiredPlan?: string; feature?: string };
            if (problem.requiredPlan !== requiredPlan(feature)) issues.push(`requiredPlan ${problem.requiredPlan}`);
            if (problem.feature !== feature) issues.push(`feature ${problem.feature}`);
          }
          const changed = changedTables(before, await dumpDatabase(dbFree));
          if (changed.length) issues.push(`the free tenant's database changed: ${changed.join(", ")}`);
          if (issues.length > 0) failures.push(`${routeLabel(route)}: ${issues.join("; ")}`);
        } else if (response.status === 403) {
          const problem = (await response.json().catch(() => ({}))) as { code?: string };
          if (problem.code === "FEATURE_NOT_IN_PLAN") failures.push(`${routeLabel(route)}: gated on free`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});

describe("the permission of every tenant route", () => {
  it(
    "a key holding every permission but the route's gets 403 and changes nothing; a key holding only it gets past the check",
    async () => {
      const catalogue = [...new Set(tenantRoutes.map((r) => r.permission as string))];
      const dbA = await tenantDatabase(world.a.id);
      // per permission, one key without it and one with only it (plus the field grants and me:read, so that a
      // route's body example naming email or granting the basic role is not refused for another reason)
      const without = new Map<string, string>();
      const only = new Map<string, string>();
      for (const permission of catalogue) {
        without.set(
          permission,
          await keyGranting(
            world.a,
            catalogue.filter((p) => p !== permission),
          ),
        );
        const scim = permission === "scim:access" ? ["users:read", "users:write", "users:delete"] : [];
        only.set(permission, await keyGranting(world.a, [permission, "users.*:*", "me:read", ...scim]));
      }
      const failures: string[] = [];
      for (const route of tenantRoutes) {
        const permission = route.permission as string;
        const path = await concretePath(route, world);
        const before = await dumpDatabase(dbA);
        const refused = await send(route, path, `Bearer ${without.get(permission)}`);
        const issues = await problemMismatch(refused, 403, ["FORBIDDEN"], route);
        const changed = changedTables(before, await dumpDatabase(dbA));
        if (changed.length) issues.push(`tenant a's database changed: ${changed.join(", ")}`);
        if (issues.length > 0) failures.push(`${routeLabel(route)} without ${permission}: ${issues.join("; ")}`);

        // let in: past the permission check. A 403 of the route's own rules (a caller may not hand out a role or
        // grant beyond its own, e.g. the body example's `manager`) shows the handler ran; FORBIDDEN would not
        const allowed = await send(route, await concretePath(route, world), `Bearer ${only.get(permission)}`);
        const text = await allowed.text();
        const code = allowed.status === 403 && !route.scimErrors ? (JSON.parse(text) as { code?: string }).code : null;
        if (allowed.status === 401 || (allowed.status === 403 && (route.scimErrors || code === "FORBIDDEN"))) {
          failures.push(`${routeLabel(route)} with only ${permission}: ${allowed.status} ${text}`);
        }
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});
