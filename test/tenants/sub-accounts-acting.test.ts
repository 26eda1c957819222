import { beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createKey,
  createSubAccount,
  createTenant,
  createUser,
  expectProblem,
  json,
  type TestTenant,
  uniqueEmail,
} from "../helpers/api";
import { count, dumpDatabase, tenantDatabase } from "../helpers/db";
import { createClient, createLoginUser, PASSWORD, passwordGrant } from "../oauth/support";

/**
 * Acting on a sub-account with `Uom-Account` (docs/sub-accounts.md): with `sub-accounts:act`, or with roles
 * scoped to the sub-account (`manager@ten_…`); never upwards or sideways (404, no oracle).
 */

let parent: TestTenant; // enterprise; its first key has role admin, so sub-accounts:act
let deptA: TestTenant; // enterprise sub-account
let teamA1: TestTenant; // below deptA
let deptB: TestTenant; // free sub-account
let stranger: TestTenant;

const on = (account: string) => ({ "Uom-Account": account });

interface UserPage {
  data: { id: string; roles: string[] }[];
}

async function userIds(token: string, headers: Record<string, string> = {}): Promise<string[]> {
  const response = await call("GET", "/v1/users?limit=1000", { token, headers });
  expect(response.status).toBe(200);
  return (await json<UserPage>(response)).data.map((u) => u.id);
}

beforeAll(async () => {
  parent = await createTenant({ name: "Holding" });
  stranger = await createTenant({ name: "Stranger" });
  deptA = await createSubAccount(parent, { name: "Dept A" });
  teamA1 = await createSubAccount(deptA, { name: "Team A1" });
  deptB = await createSubAccount(parent, { name: "Dept B", plan: "free" });
});

describe("Uom-Account with sub-accounts:act", () => {
  it("a parent's key acts on its sub-account: the user it creates is the sub-account's", async () => {
    const email = uniqueEmail("acted");
    const created = await call("POST", "/v1/users", { token: parent.key, body: { email }, headers: on(deptA.id) });
    expect(created.status).toBe(201);
    const user = await json<{ id: string }>(created);

    expect(await userIds(deptA.key)).toContain(user.id);
    expect(await userIds(parent.key)).not.toContain(user.id);
    expect(await userIds(parent.key, on(deptA.id))).toContain(user.id);
    expect((await call("GET", `/v1/users/${user.id}`, { token: parent.key, headers: on(deptA.id) })).status).toBe(200);
    await expectProblem(await call("GET", `/v1/users/${user.id}`, { token: parent.key }), 404);

    // the sub-account's trail names the actor: the parent's key
    const events = await json<{ data: { action: string; actor: { type: string; id: string } }[] }>(
      await call("GET", `/v1/audit-events?resourceId=${user.id}`, { token: deptA.key }),
    );
    expect(events.data).toEqual([
      expect.objectContaining({ action: "user.created", actor: { type: "api_key", id: parent.keyId } }),
    ]);
  });

  it("reaches further down (a sub-account of a sub-account); its own tenant's id is a no-op", async () => {
    const deep = await createUser(teamA1, { name: "Deep" });
    expect(await userIds(parent.key, on(teamA1.id))).toEqual([deep.id]);
    expect(await userIds(deptA.key, on(teamA1.id))).toEqual([deep.id]);
    const own = await createUser(parent, { name: "Own" });
    expect(await userIds(parent.key, on(parent.id))).toContain(own.id);
  });

  it("the plan gate is the sub-account's plan", async () => {
    expect((await call("GET", "/v1/audit-events", { token: parent.key, headers: on(deptA.id) })).status).toBe(200);
    const problem = await expectProblem(
      await call("GET", "/v1/audit-events", { token: parent.key, headers: on(deptB.id) }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
    expect(problem).toMatchObject({ plan: "free", feature: "audit-api" });
    expect((await call("GET", "/v1/users", { token: parent.key, headers: on(deptB.id) })).status).toBe(200);
  });

  it("tenant routes act on the sub-account too: its own sub-accounts", async () => {
    const listed = await json<{ data: { id: string }[] }>(
      await call("GET", "/v1/tenants", { token: parent.key, headers: on(deptA.id) }),
    );
    expect(listed.data.map((t) => t.id)).toEqual([teamA1.id]);
  });

  it("a deleted sub-account is unknown at once (404), its chain forgotten", async () => {
    const doomed = await createSubAccount(parent, { name: "Doomed" });
    expect((await call("GET", "/v1/users", { token: parent.key, headers: on(doomed.id) })).status).toBe(200);
    expect((await call("DELETE", `/v1/tenants/${doomed.id}`, { token: parent.key })).status).toBe(204);
    await expectProblem(
      await call("GET", "/v1/users", { token: parent.key, headers: on(doomed.id) }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
  });
});

describe("Uom-Account refused", () => {
  it("a parent's key without sub-accounts:act (manager) → 404 ACCOUNT_NOT_FOUND, nothing changed", async () => {
    const manager = await createKey(parent, ["manager"]);
    const db = await tenantDatabase(deptA.id);
    const before = await dumpDatabase(db);
    await expectProblem(
      await call("GET", "/v1/users", { token: manager.secret, headers: on(deptA.id) }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
    await expectProblem(
      await call("POST", "/v1/users", {
        token: manager.secret,
        body: { email: uniqueEmail() },
        headers: on(deptA.id),
      }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
    expect(await dumpDatabase(db)).toBe(before);
    // at home it is a manager as before
    expect((await call("GET", "/v1/users", { token: manager.secret })).status).toBe(200);
  });

  it("a sub-account's key never reaches its parent or a sibling; an unknown id answers the same", async () => {
    const details = new Set<string>();
    for (const account of [parent.id, deptB.id, "ten_unknown", stranger.id, "not an id", ""]) {
      const problem = await expectProblem(
        await call("GET", "/v1/users", { token: deptA.key, headers: on(account) }),
        404,
        "ACCOUNT_NOT_FOUND",
      );
      details.add(problem.detail);
    }
    expect(details.size).toBe(1);
    await expectProblem(
      await call("GET", "/v1/users", { token: teamA1.key, headers: on(deptA.id) }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
    // another tenant's key on the parent's sub-account
    await expectProblem(
      await call("GET", "/v1/users", { token: stranger.key, headers: on(deptA.id) }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
    for (const id of [parent.id, deptB.id]) {
      await expectProblem(await call("GET", `/v1/tenants/${id}`, { token: deptA.key }), 404, "TENANT_NOT_FOUND");
    }
  });

  it("the admin token with Uom-Account → 400: it names tenants in paths", async () => {
    await expectProblem(
      await call("GET", `/v1/tenants/${deptA.id}`, { token: ADMIN_TOKEN, headers: on(deptA.id) }),
      400,
      "BAD_REQUEST",
    );
  });
});

describe("roles scoped to a sub-account", () => {
  let scoped: string;

  it("manager@<dept A> on a parent's key: manager in dept A and below, nothing at home or in dept B", async () => {
    const key = await createKey(parent, [`manager@${deptA.id}`]);
    expect(key.roles).toEqual([`manager@${deptA.id}`]);
    scoped = key.secret;

    const created = await call("POST", "/v1/users", {
      token: scoped,
      body: { email: uniqueEmail("dept") },
      headers: on(deptA.id),
    });
    expect(created.status).toBe(201);
    const user = await json<{ id: string }>(created);
    expect(await userIds(deptA.key)).toContain(user.id);
    expect(await userIds(scoped, on(teamA1.id))).toEqual(await userIds(teamA1.key));
    // a manager there, not an admin
    await expectProblem(
      await call("POST", "/v1/api-keys", {
        token: scoped,
        body: { name: "Nope", roles: ["basic"] },
        headers: on(deptA.id),
      }),
      403,
      "FORBIDDEN",
    );

    // at home it grants nothing
    const homeUser = await createUser(parent, { name: "Home" });
    await expectProblem(await call("GET", "/v1/users", { token: scoped }), 403, "FORBIDDEN");
    await expectProblem(await call("GET", `/v1/users/${homeUser.id}`, { token: scoped }), 403, "FORBIDDEN");
    await expectProblem(await call("DELETE", `/v1/users/${homeUser.id}`, { token: scoped }), 403, "FORBIDDEN");
    // and dept B is not its to reach
    const before = await count(await tenantDatabase(deptB.id), "users");
    await expectProblem(
      await call("POST", "/v1/users", { token: scoped, body: { email: uniqueEmail() }, headers: on(deptB.id) }),
      404,
      "ACCOUNT_NOT_FOUND",
    );
    expect(await count(await tenantDatabase(deptB.id), "users")).toBe(before);
  });

  it("assigning a scoped role takes the role's grants in that account", async () => {
    // the scoped manager, acting in dept A, may give basic in team A1 (below), not admin
    const ok = await call("POST", "/v1/users", {
      token: scoped,
      body: { email: uniqueEmail(), roles: [`basic@${teamA1.id}`] },
      headers: on(deptA.id),
    });
    expect(ok.status).toBe(201);
    await expectProblem(
      await call("POST", "/v1/users", {
        token: scoped,
        body: { email: uniqueEmail(), roles: [`admin@${teamA1.id}`] },
        headers: on(deptA.id),
      }),
      403,
      "USER_BEYOND_RIGHTS",
    );
    // a manager at home without sub-accounts:act holds nothing in dept A
    const manager = await createKey(parent, ["manager"]);
    await expectProblem(
      await call("POST", "/v1/users", {
        token: manager.secret,
        body: { email: uniqueEmail(), roles: [`basic@${deptA.id}`] },
      }),
      403,
      "USER_BEYOND_RIGHTS",
    );
    // nor may it change a user who holds a scoped admin role
    const boss = await createUser(parent, { roles: [`admin@${deptA.id}`] });
    await expectProblem(
      await call("PATCH", `/v1/users/${boss.id}`, { token: manager.secret, body: { name: "Owned" } }),
      403,
      "USER_BEYOND_RIGHTS",
    );
  });

  it("the account must be a strict sub-account and the role known: 400 naming roles.<i>", async () => {
    const cases: [string, string[], string][] = [
      [parent.key, ["basic", `manager@${stranger.id}`], "unknown_account"],
      [parent.key, [`manager@${parent.id}`], "unknown_account"],
      [parent.key, ["manager@ten_unknown"], "unknown_account"],
      [parent.key, [`nosuchrole@${deptA.id}`], "unknown_role"],
      [deptA.key, [`manager@${parent.id}`], "unknown_account"],
      [deptA.key, [`manager@${deptB.id}`], "unknown_account"],
    ];
    for (const [token, roles, code] of cases) {
      const keyProblem = await expectProblem(
        await call("POST", "/v1/api-keys", { token, body: { name: "Scoped", roles } }),
        400,
        "VALIDATION_FAILED",
      );
      expect(keyProblem.errors, roles.join()).toEqual([
        expect.objectContaining({ field: `roles.${roles.length - 1}`, code }),
      ]);
      if (code === "unknown_account") {
        const userProblem = await expectProblem(
          await call("POST", "/v1/users", { token, body: { email: uniqueEmail(), roles } }),
          400,
          "VALIDATION_FAILED",
        );
        expect(userProblem.errors).toEqual([expect.objectContaining({ field: `roles.${roles.length - 1}`, code })]);
      }
    }
    await expectProblem(
      await call("POST", "/v1/api-keys", { token: parent.key, body: { name: "Bad", roles: ["manager@"] } }),
      400,
    );

    // a merge patch that adds one is checked the same way; one already held is not checked again
    const user = await createUser(parent, { roles: [`basic@${deptA.id}`] });
    const patched = await call("PATCH", `/v1/users/${user.id}`, {
      token: parent.key,
      body: { roles: [`basic@${deptA.id}`, `manager@${teamA1.id}`] },
    });
    expect(patched.status).toBe(200);
    expect((await json<{ roles: string[] }>(patched)).roles).toEqual([`basic@${deptA.id}`, `manager@${teamA1.id}`]);
    const refused = await expectProblem(
      await call("PATCH", `/v1/users/${user.id}`, {
        token: parent.key,
        body: { roles: [`basic@${deptA.id}`, `manager@${stranger.id}`] },
      }),
      400,
    );
    expect(refused.errors).toEqual([expect.objectContaining({ field: "roles.1", code: "unknown_account" })]);
  });

  it("an end user's token carries scoped roles: manager in the sub-account, bounded by the client", async () => {
    const app = await createClient(parent, { grantTypes: ["password"], roles: ["manager"] });
    const user = await createLoginUser(parent, [`manager@${deptA.id}`]);
    const token = (await passwordGrant(app, user.email, PASSWORD)).access_token;
    expect((await call("GET", "/v1/users", { token, headers: on(deptA.id) })).status).toBe(200);
    await expectProblem(await call("GET", "/v1/users", { token }), 403, "FORBIDDEN");
    await expectProblem(await call("GET", "/v1/users", { token, headers: on(deptB.id) }), 404, "ACCOUNT_NOT_FOUND");

    // a client limited to basic bounds the scoped manager role down to basic's grants
    const narrow = await createClient(parent, { grantTypes: ["password"], roles: ["basic"] });
    const bounded = (await passwordGrant(narrow, user.email, PASSWORD)).access_token;
    await expectProblem(await call("GET", "/v1/users", { token: bounded, headers: on(deptA.id) }), 403, "FORBIDDEN");
  });
});
