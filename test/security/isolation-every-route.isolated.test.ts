import { beforeAll, describe, expect, it } from "vitest";
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
 * Tenant isolation on every tenant route: another tenant's key never reaches, changes or sees tenant a's resources. Driven by the route table of the served OpenAPI document (test/helpers/security.ts), so a route is checked
 * the day it is added; split from every-route.test.ts so that the walks run side by side.
 */

let world: SecurityWorld;
let secured: SecuredRoute[];

beforeAll(async () => {
  world = await createSecurityWorld();
  ({ secured } = await routeTable());
});

/** The ids of tenant a's rows (users, audit events, …): none may ever appear in an answer to tenant b. */
async function idsOfTenantA(): Promise<string[]> {
  const dump = await dumpDatabase(await tenantDatabase(world.a.id));
  return [...new Set(dump.match(/\b[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}\b/g) ?? [])];
}

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
        const changed = changedTables(before, await dumpDatabase(dbA));
        if (changed.length) issues.push(`tenant a's database changed: ${changed.join(", ")}`);
        if (issues.length > 0) failures.push(`${routeLabel(route)} ${path} with tenant b's key: ${issues.join("; ")}`);

        // the same call by the owner is not a 404: the fixture named a real resource, so the 404 above meant isolation
        const own = await send(route, path, `Bearer ${world.a.key}`);
        if (own.status === 404 || own.status === 401 || own.status === 403) {
          failures.push(
            `${routeLabel(route)} ${path} with tenant a's own key: ${own.status} (the fixture is not real)`,
          );
        }
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
        if (leaked.length > 0) failures.push(`${routeLabel(route)}: ${leaked.join(", ")}`);
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});
