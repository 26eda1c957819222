import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReceivedRequest, type Receiver, startReceiver } from "./helpers/servers";
import { createTenant, type E2eTenant, eventually, expectCall, uniqueEmail } from "./helpers/service";

// Webhooks against real HTTP receivers (node:http on 127.0.0.1), every request verified with the `standardwebhooks`
// library. The e2e worker retries after about 1 s (WEBHOOK_RETRY_SCHEDULE in global-setup.ts), so failing and
// down receivers play out within a test.

interface Payload {
  type: string;
  timestamp: string;
  data: { id: string; type: string; tenantId: string; occurredAt: string; subjectId: string | null; sequence: number };
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  attempts: { attempt: number; statusCode: number | null; error: string | null }[];
}

let tenant: E2eTenant;
const receivers: Receiver[] = [];

beforeAll(async () => {
  tenant = await createTenant({ name: "E2E webhooks" });
});

afterAll(async () => {
  for (const receiver of receivers) await receiver.stop();
});

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

async function endpoint(on: Receiver, events: string[], owner = tenant) {
  return expectCall<{ id: string; secret: string }>("POST", "/v1/webhooks", 201, {
    token: owner.key,
    body: { url: `${on.url}/hook`, events },
  });
}

async function createUser(owner = tenant): Promise<string> {
  const user = await expectCall<{ id: string }>("POST", "/v1/users", 201, {
    token: owner.key,
    body: { email: uniqueEmail("webhook"), name: "Webhook receiver test" },
  });
  return user.id;
}

/** Verifies a request as a receiver would (throws if the signature, id or timestamp does not hold). */
function verified(request: ReceivedRequest, secret: string): Payload {
  return new Webhook(secret).verify(request.body, request.headers) as Payload;
}

/** The user.created requests about `userId` (a receiver may hear other events of the tenant too). */
function createdOf(on: Receiver, userId: string): ReceivedRequest[] {
  return on.requests.filter((r) => {
    const body = JSON.parse(r.body) as Payload;
    return body.type === "user.created" && body.data.subjectId === userId;
  });
}

async function deliveriesOf(endpointId: string, owner = tenant): Promise<Delivery[]> {
  const page = await expectCall<{ data: Delivery[] }>("GET", `/v1/webhooks/${endpointId}/deliveries`, 200, {
    token: owner.key,
  });
  return page.data;
}

async function remove(endpointId: string, owner = tenant) {
  await expectCall("DELETE", `/v1/webhooks/${endpointId}`, 204, { token: owner.key });
}

describe("webhook delivery to a real receiver", () => {
  it("signs each request so that standardwebhooks verifies it; body {type, timestamp, data}; the log shows it", async () => {
    const on = await receiver();
    const hook = await endpoint(on, ["user.*"]);
    const userId = await createUser();
    const [request] = await eventually("the user.created request", async () => {
      const found = createdOf(on, userId);
      return found.length > 0 ? found : undefined;
    });
    if (!request) throw new Error("no request");
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/json");
    const payload = verified(request, hook.secret);
    expect(payload).toMatchObject({
      type: "user.created",
      data: { type: "user.created", tenantId: tenant.id, subjectId: userId, sequence: 1 },
    });
    expect(payload.timestamp).toBe(payload.data.occurredAt);
    // webhook-id is the event id: receivers dedupe by it across retries and replays
    expect(request.headers["webhook-id"]).toBe(payload.data.id);
    const delivered = await eventually("the succeeded delivery", async () => {
      const found = (await deliveriesOf(hook.id)).find((d) => d.eventId === payload.data.id);
      return found?.status === "succeeded" ? found : undefined;
    });
    expect(delivered.attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200, error: null })]);
    await remove(hook.id);
  });

  it("a receiver that fails the first attempts still gets the event, with the same webhook-id each time", async () => {
    const on = await receiver();
    on.reply = (_request, index) => (index < 2 ? { status: 500, body: "not yet" } : { status: 204 });
    const hook = await endpoint(on, ["user.created"]);
    const userId = await createUser();
    const requests = await eventually("the third attempt", async () => {
      const found = createdOf(on, userId);
      return found.length >= 3 ? found : undefined;
    });
    const ids = new Set(requests.map((r) => verified(r, hook.secret).data.id));
    expect(ids.size).toBe(1);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(ids);
    const delivered = await eventually("the succeeded delivery", async () => {
      const [found] = await deliveriesOf(hook.id);
      return found?.status === "succeeded" ? found : undefined;
    });
    expect(delivered.attempts.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 500],
      [2, 500],
      [3, 204],
    ]);
    await remove(hook.id);
  });

  it("a receiver that is down for a while gets every event once it is back", async () => {
    const on = await receiver();
    const hook = await endpoint(on, ["user.created"]);
    await on.stop();
    const users = [await createUser(), await createUser(), await createUser()];
    // every delivery has failed at least once while the receiver was down
    await eventually("a failed attempt of each delivery", async () => {
      const deliveries = await deliveriesOf(hook.id);
      return deliveries.length === 3 && deliveries.every((d) => d.attempts.some((a) => a.error !== null));
    });
    await on.start();
    await eventually("every event at the receiver", async () =>
      users.every((id) => createdOf(on, id).length > 0) ? true : undefined,
    );
    for (const id of users) for (const request of createdOf(on, id)) verified(request, hook.secret);
    await remove(hook.id);
  });

  it("410 Gone disables the endpoint, with a webhook.disabled event", async () => {
    const on = await receiver();
    on.reply = () => ({ status: 410 });
    const hook = await endpoint(on, ["user.created"]);
    await createUser();
    const disabled = await eventually("the disabled endpoint", async () => {
      const shown = await expectCall<{ status: string; disabledReason: string | null }>(
        "GET",
        `/v1/webhooks/${hook.id}`,
        200,
        { token: tenant.key },
      );
      return shown.status === "disabled" ? shown : undefined;
    });
    expect(disabled.disabledReason).toBe("gone");
    const events = await expectCall<{ data: { subjectId: string }[] }>("GET", "/v1/events?type=webhook.disabled", 200, {
      token: tenant.key,
    });
    expect(events.data.map((e) => e.subjectId)).toContain(hook.id);
    const [delivery] = await deliveriesOf(hook.id);
    expect(delivery).toMatchObject({ status: "failed", attempts: [expect.objectContaining({ statusCode: 410 })] });
    await remove(hook.id);
  });

  it("each tenant's endpoint gets only its own tenant's events", async () => {
    const other = await createTenant({ name: "E2E webhooks, other tenant" });
    const [mine, theirs] = [await receiver(), await receiver()];
    const myHook = await endpoint(mine, ["user.created"]);
    const theirHook = await endpoint(theirs, ["user.created"], other);
    const myUser = await createUser();
    const theirUser = await createUser(other);
    await eventually("both events delivered", async () =>
      createdOf(mine, myUser).length > 0 && createdOf(theirs, theirUser).length > 0 ? true : undefined,
    );
    for (const request of mine.requests) expect(verified(request, myHook.secret).data.tenantId).toBe(tenant.id);
    for (const request of theirs.requests) expect(verified(request, theirHook.secret).data.tenantId).toBe(other.id);
    expect(createdOf(mine, theirUser)).toEqual([]);
    expect(createdOf(theirs, myUser)).toEqual([]);
    await remove(myHook.id);
  });

  it("after a secret rotation, each request verifies with the new secret and with the old one", async () => {
    const on = await receiver();
    const hook = await endpoint(on, ["user.created"]);
    const rotated = await expectCall<{ secret: string }>("POST", `/v1/webhooks/${hook.id}/rotate-secret`, 200, {
      token: tenant.key,
    });
    const userId = await createUser();
    const [request] = await eventually("the request after the rotation", async () => {
      const found = createdOf(on, userId);
      return found.length > 0 ? found : undefined;
    });
    if (!request) throw new Error("no request");
    expect(request.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(verified(request, rotated.secret).data.subjectId).toBe(userId);
    expect(verified(request, hook.secret).data.subjectId).toBe(userId);
    await remove(hook.id);
  });

  it("a test send and a manual retry reach the receiver with the same webhook-id", async () => {
    const on = await receiver();
    const hook = await endpoint(on, ["never.sent"]);
    const test = await expectCall<{ id: string; eventId: string }>("POST", `/v1/webhooks/${hook.id}/test`, 202, {
      token: tenant.key,
    });
    await eventually("the test event", async () => (on.requests.length >= 1 ? true : undefined));
    expect(verified(on.requests[0] as ReceivedRequest, hook.secret)).toMatchObject({ type: "webhook.test" });
    await expectCall("POST", `/v1/webhooks/${hook.id}/deliveries/${test.id}/retry`, 202, { token: tenant.key });
    await eventually("the retried test event", async () => (on.requests.length >= 2 ? true : undefined));
    expect(on.requests.map((r) => r.headers["webhook-id"])).toEqual([test.eventId, test.eventId]);
    await remove(hook.id);
  });
});
