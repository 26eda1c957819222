import { env } from "cloudflare:test";
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
 * Sub-account isolation on every tenant route: a sub-account's key never reaches its parent (nor, through Uom-Account, acts on it). Driven by the route table of the served OpenAPI document (test/helpers/security.ts), so a route is checked
 * the day it is added; split from every-route.test.ts so that the walks run side by side.
 */

let world: SecurityWorld;
let secured: SecuredRoute[];

beforeAll(async () => {
  world = await createSecurityWorld();
  ({ secured } = await routeTable());
});

/** Tenant a's subtree as the control database holds it: a sub-account's key must never change it. */
async function subtreeOfA(): Promise<string> {
  const { results } = await env.CONTROL_DB.prepare(
    "SELECT * FROM tenants WHERE id = ?1 OR parent_id = ?1 OR parent_id IN (SELECT id FROM tenants WHERE parent_id = ?1) ORDER BY id",
  )
    .bind(world.a.id)
    .all();
  return JSON.stringify(results);
}

describe("sub-account isolation on every tenant route", () => {
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
          const [before, subtreeBefore] = [await dumpDatabase(dbA), await subtreeOfA()];
          const issues = await problemMismatch(await send(route, path, child), 404, undefined, route);
          const changed = changedTables(before, await dumpDatabase(dbA));
          if (changed.length) issues.push(`tenant a's database changed: ${changed.join(", ")}`);
          if ((await subtreeOfA()) !== subtreeBefore) issues.push("tenant a's subtree changed");
          if (issues.length > 0)
            failures.push(`${routeLabel(route)} ${path} with a's sub-account's key: ${issues.join("; ")}`);
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
        const changed = changedTables(before, await dumpDatabase(dbA));
        if (changed.length) issues.push(`tenant a's database changed: ${changed.join(", ")}`);
        if (issues.length > 0) failures.push(`${routeLabel(route)}: ${issues.join("; ")}`);
      }
      expect(failures).toEqual([]);
    },
    WALK_TIMEOUT,
  );
});
