import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "./helpers/servers";
import { call, createTenant, type E2eTenant, eventually, expectCall, service, uniqueEmail } from "./helpers/service";

/**
 * HTTP actions and the crm-sync plugin against real receivers (node:http on 127.0.0.1), the worker as `wrangler dev`
 * runs it. Signatures are checked with the `standardwebhooks` library.
 */

let tenant: E2eTenant;
let receiver: Receiver;

beforeAll(async () => {
  tenant = await createTenant({ name: "E2E plugins" });
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver.stop();
});

interface CreatedAction {
  id: string;
  secret: string;
}

async function createAction(body: Record<string, unknown>): Promise<CreatedAction> {
  return expectCall<CreatedAction>("POST", "/v1/actions", 201, {
    token: tenant.key,
    body: { url: `${receiver.url}/action`, trigger: "user.create.before", timeoutMs: 2000, ...body },
  });
}

async function removeAction(id: string): Promise<void> {
  await expectCall("DELETE", `/v1/actions/${id}`, 204, { token: tenant.key });
}

async function executions(id: string) {
  return (
    await expectCall<{ data: { outcome: string; httpStatus: number | null; error: string | null }[] }>(
      "GET",
      `/v1/actions/${id}/executions`,
      200,
      { token: tenant.key },
    )
  ).data;
}

const answer = (body: unknown) => () => ({
  status: 200,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" },
});

describe("HTTP actions on user.create", () => {
  it("signs the request like Standard Webhooks and sends the input without the password", async () => {
    const action = await createAction({});
    receiver.requests.length = 0;
    receiver.reply = answer({ action: "allow" });
    const email = uniqueEmail("signed");
    await expectCall("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email, password: "correct horse battery" },
    });
    const [request] = receiver.requests;
    if (!request) throw new Error("the action was not called");
    const payload = new Webhook(action.secret).verify(request.body, request.headers) as Record<string, unknown>;
    expect(payload).toMatchObject({
      trigger: "user.create.before",
      tenantId: tenant.id,
      user: { email, status: "active", attributes: {}, roles: [] },
      context: { ip: expect.anything() },
    });
    expect(request.body).not.toContain("correct horse battery");
    expect(() =>
      new Webhook(`whsec_${btoa("another secret of 32 bytes......")}`).verify(request.body, request.headers),
    ).toThrow();
    expect((await executions(action.id))[0]).toMatchObject({ outcome: "allowed", httpStatus: 200 });
    await removeAction(action.id);
  });

  it("merges the attributes an action answers, and denies with its message (nothing written)", async () => {
    const action = await createAction({});
    receiver.reply = answer({ action: "allow", attributes: { tier: "gold" } });
    const user = await expectCall<{ id: string; attributes: Record<string, unknown> }>("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email: uniqueEmail("modified"), attributes: { team: "a" } },
    });
    expect(user.attributes).toEqual({ team: "a", tier: "gold" });

    receiver.reply = answer({ action: "deny", message: "Disposable emails are not allowed." });
    const email = uniqueEmail("denied");
    const response = await call("POST", "/v1/users", { token: tenant.key, body: { email } });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({
      code: "ACTION_DENIED",
      detail: "Disposable emails are not allowed.",
    });
    const found = await expectCall<{ data: unknown[] }>(
      "GET",
      `/v1/users?filter=${encodeURIComponent(`email eq "${email}"`)}`,
      200,
      {
        token: tenant.key,
      },
    );
    expect(found.data).toEqual([]);
    expect((await executions(action.id)).map((e) => e.outcome)).toEqual(["denied", "modified"]);
    await removeAction(action.id);
  });

  it("on timeout or error: fail-open proceeds, fail-closed refuses with 503 ACTION_UNAVAILABLE", async () => {
    const open = await createAction({ failurePolicy: "open", timeoutMs: 300 });
    receiver.reply = () => "hang";
    await expectCall("POST", "/v1/users", 201, { token: tenant.key, body: { email: uniqueEmail("open") } });
    expect((await executions(open.id))[0]).toMatchObject({ outcome: "failed_open", error: "timeout after 300 ms" });
    await removeAction(open.id);

    const closed = await createAction({ failurePolicy: "closed", timeoutMs: 300 });
    const hung = await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("closed") } });
    expect(hung.status).toBe(503);
    expect(await hung.json()).toMatchObject({ code: "ACTION_UNAVAILABLE" });
    receiver.reply = () => ({ status: 500 });
    const failed = await call("POST", "/v1/users", { token: tenant.key, body: { email: uniqueEmail("closed") } });
    expect(failed.status).toBe(503);
    await failed.text();
    expect((await executions(closed.id)).map((e) => [e.outcome, e.httpStatus])).toEqual([
      ["failed_closed", 500],
      ["failed_closed", null],
    ]);
    await removeAction(closed.id);
  });

  it("refuses URLs outside the SSRF guard", async () => {
    for (const url of [
      "http://example.com/hook",
      "https://10.0.0.1/hook",
      "https://169.254.169.254/latest",
      "ftp://x.test",
    ]) {
      const response = await call("POST", "/v1/actions", {
        token: tenant.key,
        body: { url, trigger: "user.create.before" },
      });
      expect(response.status, url).toBe(400);
      await response.text();
    }
  });
});

describe("HTTP actions on user.login", () => {
  it("deny refuses the sign-in (access_denied); allow with attributes sets them", async () => {
    const client = await expectCall<{ clientId: string; clientSecret: string }>("POST", "/v1/oauth/clients", 201, {
      token: tenant.key,
      body: { name: "Login", grantTypes: ["password"], roles: ["basic"] },
    });
    const email = uniqueEmail("login");
    const password = "login password 123";
    const user = await expectCall<{ id: string }>("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email, password },
    });
    const action = await createAction({ trigger: "user.login.before" });
    const login = () =>
      fetch(new URL("/oauth/token", service().url), {
        method: "POST",
        headers: {
          authorization: `Basic ${btoa(`${client.clientId}:${client.clientSecret}`)}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({ grant_type: "password", username: email, password }).toString(),
      });

    receiver.reply = answer({ action: "deny", message: "Outside office hours." });
    const denied = await login();
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: "access_denied", error_description: "Outside office hours." });

    receiver.reply = answer({ action: "allow", attributes: { lastLoginCountry: "FR" } });
    const allowed = await login();
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ access_token: expect.any(String) });
    const after = await expectCall<{ attributes: Record<string, unknown> }>("GET", `/v1/users/${user.id}`, 200, {
      token: tenant.key,
    });
    expect(after.attributes).toEqual({ lastLoginCountry: "FR" });
    await removeAction(action.id);
  });
});

describe("crm-sync", () => {
  it("pushes user changes with the field mapping, signed, retrying when the CRM fails", async () => {
    const crm = await startReceiver();
    const secret = `whsec_${btoa("crm sync secret of 32 bytes.....")}`;
    await expectCall("PUT", "/v1/plugins/crm-sync", 200, {
      token: tenant.key,
      body: {
        config: {
          url: `${crm.url}/crm`,
          secret,
          fieldMap: { email: "Email", "attributes.plan": "Plan", name: "FullName" },
        },
      },
    });
    // the first push of each user fails: the plugin-tasks queue tries again
    const failedOnce = new Set<string>();
    crm.reply = (request) => {
      const { userId } = JSON.parse(request.body) as { userId: string };
      if (failedOnce.has(userId)) return { status: 200 };
      failedOnce.add(userId);
      return { status: 500 };
    };
    const email = uniqueEmail("crm");
    const user = await expectCall<{ id: string }>("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email, name: "Grace Hopper", attributes: { plan: "pro" } },
    });
    const pushes = () => crm.requests.filter((r) => JSON.parse(r.body).userId === user.id);
    await eventually("two pushes of the created user", async () => pushes().length >= 2);
    const [first, second] = pushes();
    expect(second?.body).toBe(first?.body);
    expect(new Webhook(secret).verify(second?.body ?? "", second?.headers ?? {})).toEqual({
      type: "user.created",
      userId: user.id,
      deleted: false,
      fields: { Email: email, Plan: "pro", FullName: "Grace Hopper" },
    });

    await expectCall("PATCH", `/v1/users/${user.id}`, 200, {
      token: tenant.key,
      body: { attributes: { plan: "enterprise" } },
    });
    await eventually("the update pushed", async () =>
      pushes().some(
        (r) => JSON.parse(r.body).type === "user.updated" && JSON.parse(r.body).fields.Plan === "enterprise",
      ),
    );
    await expectCall("DELETE", "/v1/plugins/crm-sync", 204, { token: tenant.key });
    await crm.stop();
  });
});
