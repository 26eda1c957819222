import { env } from "cloudflare:test";
import { createECDH, randomBytes } from "node:crypto";
import ece from "http_ece";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { sendPendingEvents } from "../../src/core/events/dispatch";
import { authenticateUser } from "../../src/modules/login/login.service";
import { notificationsConsumer } from "../../src/modules/notifications/consumer";
import { unsubscribeToken } from "../../src/modules/notifications/preferences";
import { remindInactiveUsers } from "../../src/modules/notifications/reminders";
import { encryptPushPayload, generateVapidKeys, vapidAuthorization } from "../../src/modules/notifications/webpush";
import { call, createTenant, createUser, expectProblem, json, type TestTenant, uniqueEmail } from "../helpers/api";
import { bindingOf, dumpDatabase, sleep, tenantDatabase } from "../helpers/db";

// What the notifications consumer decides for each event, through the real EVENTS and NOTIFICATIONS queues of
// workerd: rows in the log, idempotent per event, channel and template; retries until failure against an SMTP port
// nobody listens on (the messages that do arrive are the Node end-to-end project's, test-e2e/notifications.test.ts);
// opt-outs and unsubscribe links; activation reminders; push encryption decrypted by http_ece.

let tenant: TestTenant;
let db: D1Database;

interface LogEntry {
  id: string;
  eventId: string;
  eventType: string;
  template: string;
  channel: string;
  category: string;
  userId: string;
  status: string;
  attempts: number;
  error: string | null;
}

async function logOf(userId: string): Promise<LogEntry[]> {
  const response = await call("GET", `/v1/notifications?userId=${userId}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: LogEntry[] }>(response)).data;
}

/** Polls the log (work done by queues in the background); bounded, not timed. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const settle = (userId: string, template: string) =>
  until(`${template} to settle`, async () =>
    (await logOf(userId)).find((entry) => entry.template === template && entry.status !== "queued"),
  );

beforeAll(async () => {
  tenant = await createTenant({ name: "Notification delivery" });
  db = await tenantDatabase(tenant.id);
});

describe("before any channel is set up", () => {
  it("an event makes no message", async () => {
    const user = await createUser(tenant);
    await until("the user.created event to be acknowledged", async () => {
      const row = await db
        .prepare("SELECT dispatched_at FROM outbox_events WHERE subject_id = ? AND type = 'user.created'")
        .bind(user.id)
        .first<{ dispatched_at: string | null }>();
      return row?.dispatched_at ?? undefined;
    });
    expect(await logOf(user.id)).toEqual([]);
  });
});

describe("with an email channel", () => {
  beforeAll(async () => {
    // loopback is allowed in development (ENVIRONMENT, wrangler.toml); nothing listens on port 9 (discard)
    const put = await call("PUT", "/v1/notification-channels", {
      token: tenant.key,
      body: {
        email: { provider: "smtp", host: "127.0.0.1", port: 9, security: "none", from: "App <app@example.com>" },
      },
    });
    expect(put.status).toBe(200);
  });

  it("a new user gets a welcome email, tried NOTIFICATION_MAX_ATTEMPTS times, then failed with the reason", async () => {
    const user = await createUser(tenant, { name: "Ada" });
    const entry = await settle(user.id, "user.created");
    expect(entry).toMatchObject({
      eventType: "user.created",
      channel: "email",
      category: "onboarding",
      status: "failed",
      attempts: 2,
    });
    expect(entry.error).toMatch(/^SMTP: /);
    // the log holds no address
    const row = await db.prepare("SELECT * FROM notifications WHERE id = ?").bind(entry.id).first();
    expect(JSON.stringify(row)).not.toContain(user.email);
  });

  it("writes one message per event, channel and template however often the event comes", async () => {
    const user = await createUser(tenant);
    const event = await db
      .prepare(
        "SELECT id, type, subject_id, data, created_at, sequence FROM outbox_events WHERE subject_id = ? AND type = 'user.created'",
      )
      .bind(user.id)
      .first<{ id: string; type: string; subject_id: string; data: string; created_at: string; sequence: number }>();
    if (!event) throw new Error("no event");
    const message = {
      id: event.id,
      type: event.type,
      tenantId: tenant.id,
      occurredAt: event.created_at,
      sequence: event.sequence,
      subjectId: event.subject_id,
      data: JSON.parse(event.data) as Record<string, unknown>,
    };
    const ctx = { env, tenantId: tenant.id, db };
    await notificationsConsumer.consume(ctx, [message, message]);
    await notificationsConsumer.consume(ctx, [message]);
    const rows = await db
      .prepare("SELECT template, channel FROM notifications WHERE event_id = ?")
      .bind(event.id)
      .all();
    expect(rows.results).toEqual([{ template: "user.created", channel: "email" }]);
  });

  it("a password reset request makes a security email; a new device sign-in too, not the first one", async () => {
    const email = uniqueEmail("reset");
    const user = await createUser(tenant, { email, password: "correct horse battery staple" });
    expect((await call("POST", "/v1/password-resets", { token: tenant.key, body: { email } })).status).toBe(202);
    expect(await settle(user.id, "user.password_reset_requested")).toMatchObject({ category: "security" });

    const signIn = async (userAgent: string) => {
      const ctx = {
        env,
        db,
        scope: tenant.id,
        tenant: {
          id: tenant.id,
          plan: "enterprise" as const,
          parentId: null,
          databaseBinding: await bindingOf(tenant.id),
        },
        actor: { type: "client" as const, id: "cli_notifications" },
        request: { requestId: `req_${crypto.randomUUID()}`, ip: "203.0.113.9", userAgent },
        waitUntil: () => undefined,
      };
      const result = await authenticateUser(ctx, {
        identifier: email,
        password: "correct horse battery staple",
        ip: null,
      });
      expect(result.ok).toBe(true);
      await db.batch(result.statements);
      // token-endpoint logins leave their events to the sweeper; send them now
      await sendPendingEvents(env, tenant.id, db);
    };
    const newDevice = async () =>
      (await logOf(user.id)).filter((entry) => entry.template === "user.login.new_device").length;

    await signIn("Browser A");
    await signIn("Browser A");
    await until("both logins to be handled", async () => {
      const { n } = (await db
        .prepare(
          "SELECT count(*) AS n FROM outbox_events WHERE subject_id = ? AND type = 'user.login' AND dispatched_at IS NOT NULL",
        )
        .bind(user.id)
        .first<{ n: number }>()) ?? { n: 0 };
      return n === 2 ? true : undefined;
    });
    expect(await newDevice()).toBe(0);
    await signIn("Browser B");
    const entry = await settle(user.id, "user.login.new_device");
    expect(entry).toMatchObject({ eventType: "user.login", category: "security", channel: "email" });
    // the event names the device by a keyed hash, never the user agent
    const { results } = await db
      .prepare("SELECT data FROM outbox_events WHERE subject_id = ? AND type = 'user.login'")
      .bind(user.id)
      .all<{ data: string }>();
    for (const row of results) {
      expect(row.data).not.toContain("Browser");
      expect(JSON.parse(row.data).device).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
  });

  it("filters the log by status and channel and pages it with a cursor", async () => {
    const failed = await json<{ data: LogEntry[]; nextCursor: string | null }>(
      await call("GET", "/v1/notifications?status=failed&channel=email&limit=1", { token: tenant.key }),
    );
    expect(failed.data).toHaveLength(1);
    expect(failed.nextCursor).not.toBeNull();
    const next = await json<{ data: LogEntry[] }>(
      await call("GET", `/v1/notifications?status=failed&limit=1&cursor=${failed.nextCursor}`, { token: tenant.key }),
    );
    expect(next.data[0]?.id).not.toBe(failed.data[0]?.id);
    expect(
      (await json<{ data: LogEntry[] }>(await call("GET", "/v1/notifications?channel=sms", { token: tenant.key })))
        .data,
    ).toEqual([]);
    await expectProblem(await call("GET", "/v1/notifications?status=lost", { token: tenant.key }), 400);
  });
});

describe("preferences, unsubscribe and activation reminders", () => {
  it("keeps per-user opt-outs of non-essential categories", async () => {
    const user = await createUser(tenant);
    const path = `/v1/users/${user.id}/notification-preferences`;
    expect(await json(await call("GET", path, { token: tenant.key }))).toEqual({
      userId: user.id,
      optedOut: [],
      essential: ["security"],
    });
    const put = await call("PUT", path, { token: tenant.key, body: { optedOut: ["reminders", "onboarding"] } });
    expect(await json(put)).toMatchObject({ optedOut: ["onboarding", "reminders"] });
    await expectProblem(await call("PUT", path, { token: tenant.key, body: { optedOut: ["security"] } }), 400);
    await expectProblem(
      await call("GET", "/v1/users/usr_00000000000000000000000000/notification-preferences", { token: tenant.key }),
      404,
    );
  });

  it("unsubscribes with a signed link (GET shows a page and changes nothing, POST opts out); forged links are refused", async () => {
    const user = await createUser(tenant);
    const token = await unsubscribeToken(env, { tenantId: tenant.id, userId: user.id, category: "reminders" });
    const before = await dumpDatabase(db);
    const page = await call("GET", `/v1/notifications/unsubscribe?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('method="post"');
    expect(await dumpDatabase(db)).toBe(before);

    const posted = await call("POST", `/v1/notifications/unsubscribe?token=${token}`, {
      rawBody: "List-Unsubscribe=One-Click",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(await json(posted)).toEqual({ category: "reminders", unsubscribed: true });
    const prefs = await json<{ optedOut: string[] }>(
      await call("GET", `/v1/users/${user.id}/notification-preferences`, { token: tenant.key }),
    );
    expect(prefs.optedOut).toEqual(["reminders"]);

    const [body, mac] = token.split(".") as [string, string];
    const other = await unsubscribeToken(env, { tenantId: tenant.id, userId: user.id, category: "onboarding" });
    for (const bad of [`${body}.${mac.slice(0, -2)}AA`, `${other.split(".")[0]}.${mac}`, "garbage", `${body}`]) {
      await expectProblem(
        await call("POST", `/v1/notifications/unsubscribe?token=${bad}`),
        400,
        "INVALID_UNSUBSCRIBE_TOKEN",
      );
    }
  });

  it("reminds users who never signed in N days after creation, once, and honours their opt-out", async () => {
    const waiting = await createUser(tenant, { name: "Waiting" });
    const optedOut = await createUser(tenant, { name: "Opted out" });
    await call("PUT", `/v1/users/${optedOut.id}/notification-preferences`, {
      token: tenant.key,
      body: { optedOut: ["reminders"] },
    });
    const inFourDays = Date.now() + 4 * 24 * 3600 * 1000;
    expect(await remindInactiveUsers(env, tenant.id, db, Date.now())).toBe(0);
    const reminded = await remindInactiveUsers(env, tenant.id, db, inFourDays);
    expect(reminded).toBeGreaterThanOrEqual(2);
    expect(await remindInactiveUsers(env, tenant.id, db, inFourDays)).toBe(0);
    const events = await db
      .prepare("SELECT count(*) AS n FROM outbox_events WHERE subject_id = ? AND type = 'user.activation_reminder'")
      .bind(waiting.id)
      .first<{ n: number }>();
    expect(events?.n).toBe(1);
    expect(await settle(waiting.id, "user.activation_reminder")).toMatchObject({
      category: "reminders",
      status: "failed",
    });
    expect(await settle(optedOut.id, "user.activation_reminder")).toMatchObject({
      status: "suppressed",
      error: "the user opted out of reminders",
      attempts: 1,
    });
  });
});

describe("Web Push", () => {
  it("encrypts a payload (RFC 8291) that http_ece decrypts with the subscriber's private key", async () => {
    const subscriber = createECDH("prime256v1");
    subscriber.generateKeys();
    const auth = randomBytes(16);
    const payload = JSON.stringify({ title: "New sign-in", body: "Ünïcödé ✓" });
    const body = await encryptPushPayload(
      { p256dh: subscriber.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      new TextEncoder().encode(payload),
    );
    // RFC 8188 header: 16-byte salt, record size 4096, a 65-byte key id (the sender's public key)
    expect(new DataView(body.buffer, body.byteOffset).getUint32(16)).toBe(4096);
    expect(body[20]).toBe(65);
    const plain = ece.decrypt(Buffer.from(body), { version: "aes128gcm", privateKey: subscriber, authSecret: auth });
    expect(plain.toString("utf8")).toBe(payload);
    const otherAuth = randomBytes(16);
    expect(() =>
      ece.decrypt(Buffer.from(body), { version: "aes128gcm", privateKey: subscriber, authSecret: otherAuth }),
    ).toThrow();
  });

  it("signs a VAPID JWT (RFC 8292) for the push service's origin that verifies with the public key", async () => {
    const keys = await generateVapidKeys();
    const header = await vapidAuthorization("https://push.example.net/send/abc?x=1", "mailto:ops@example.com", keys);
    const match = /^vapid t=([^,]+), k=([A-Za-z0-9_-]+)$/.exec(header);
    expect(match?.[2]).toBe(keys.publicKey);
    const raw = Buffer.from(keys.publicKey, "base64url");
    const publicKey = await importJWK(
      {
        kty: "EC",
        crv: "P-256",
        x: raw.subarray(1, 33).toString("base64url"),
        y: raw.subarray(33).toString("base64url"),
      },
      "ES256",
    );
    const jwt = match?.[1] as string;
    expect(decodeProtectedHeader(jwt)).toEqual({ typ: "JWT", alg: "ES256" });
    const { payload } = await jwtVerify(jwt, publicKey, { audience: "https://push.example.net" });
    expect(payload.sub).toBe("mailto:ops@example.com");
    expect((payload.exp as number) - Date.now() / 1000).toBeLessThanOrEqual(24 * 3600);
  });

  it("stores a user's subscriptions sealed, lists their ids, removes them", async () => {
    const user = await createUser(tenant);
    const subscriber = createECDH("prime256v1");
    subscriber.generateKeys();
    const endpoint = `https://push.example.net/send/${crypto.randomUUID()}`;
    const body = {
      endpoint,
      keys: { p256dh: subscriber.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") },
    };
    const path = `/v1/users/${user.id}/push-subscriptions`;
    const created = await call("POST", path, { token: tenant.key, body });
    expect(created.status).toBe(201);
    const { id } = await json<{ id: string }>(created);
    expect(await json(await call("GET", path, { token: tenant.key }))).toMatchObject({ data: [{ id }] });
    const dump = await dumpDatabase(db);
    expect(dump).not.toContain(endpoint);
    expect(dump).not.toContain(body.keys.p256dh);
    await expectProblem(
      await call("POST", path, { token: tenant.key, body: { ...body, endpoint: "https://10.1.2.3/push" } }),
      400,
      "OUTBOUND_URL_REFUSED",
    );
    expect((await call("DELETE", `${path}/${id}`, { token: tenant.key })).status).toBe(204);
    await expectProblem(await call("DELETE", `${path}/${id}`, { token: tenant.key }), 404);
  });
});
