import { createECDH, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import ece from "http_ece";
import { importJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, type SmtpSink, startReceiver, startSmtp } from "./helpers/servers";
import { call, createTenant, type E2eTenant, eventually, expectCall, uniqueEmail } from "./helpers/service";

// Notifications leaving the worker for real servers: an SMTP server with authentication (smtp-server, messages parsed
// by mailparser), an HTTP email API and a Twilio-compatible SMS API (node:http receivers checking auth and payload),
// and a push service whose payload is decrypted with http_ece using the subscriber's private key.

let tenant: E2eTenant;
let smtp: SmtpSink;
const SMTP_USER = "mailer";
const SMTP_PASSWORD = `pw-${randomBytes(6).toString("hex")}`;

/** The tenant's email channel: the test's SMTP server, plain (allowed in development), logging in with `password`. */
function smtpChannel(password: string) {
  return {
    provider: "smtp",
    host: "127.0.0.1",
    port: smtp.port,
    security: "none",
    username: SMTP_USER,
    password,
    from: "Acme <no-reply@acme.test>",
  };
}

beforeAll(async () => {
  tenant = await createTenant({ name: "E2E notifications" });
  smtp = await startSmtp({ users: { [SMTP_USER]: SMTP_PASSWORD } });
  await expectCall("PUT", "/v1/notification-settings", 200, {
    token: tenant.key,
    body: {
      appName: "Acme",
      links: { passwordReset: "https://app.acme.test/reset?token={{token}}" },
    },
  });
  await expectCall("PUT", "/v1/notification-channels", 200, {
    token: tenant.key,
    body: {
      email: smtpChannel(SMTP_PASSWORD),
    },
  });
});

afterAll(async () => {
  await smtp?.close();
});

const mailTo = (address: string, subject: RegExp) =>
  eventually(`a message to ${address}`, async () =>
    smtp.messages.find((mail) => mail.envelope.to.includes(address) && subject.test(mail.subject ?? "")),
  );

async function createUser(body: Record<string, unknown>) {
  return expectCall<{ id: string; email: string }>("POST", "/v1/users", 201, { token: tenant.key, body });
}

describe("email over SMTP", () => {
  it("sends the welcome email, rendered, authenticated, multipart, with a one-click unsubscribe", async () => {
    const email = uniqueEmail("welcome");
    const user = await createUser({ email, name: "Ada <Lovelace>" });
    const mail = await mailTo(email, /^Welcome/);
    expect(mail.subject).toBe("Welcome to Acme, Ada <Lovelace>");
    expect(mail.auth).toEqual({ username: SMTP_USER });
    expect(mail.envelope.from).toBe("no-reply@acme.test");
    expect(mail.from?.value).toEqual([{ address: "no-reply@acme.test", name: "Acme" }]);
    expect(mail.text).toContain("Hello Ada <Lovelace>,");
    expect(mail.html).toContain("<p>Hello Ada &lt;Lovelace&gt;,</p>");
    expect(mail.messageId).toMatch(/^<msg_[0-9a-z]+@acme\.test>$/);
    expect(mail.date).toBeInstanceOf(Date);
    const header = (name: string) => mail.headerLines.find((line) => line.key === name)?.line ?? "";
    expect(header("list-unsubscribe-post")).toBe("List-Unsubscribe-Post: List-Unsubscribe=One-Click");
    const link = /^List-Unsubscribe: <([^>]+)>$/.exec(header("list-unsubscribe"))?.[1] ?? "";
    expect(link).toMatch(/\/v1\/notifications\/unsubscribe\?token=/);
    const token = new URL(link).searchParams.get("token");
    expect(token).toBeTruthy();

    // the log says sent; the one-click link opts the user out (RFC 8058 POST)
    const log = await eventually("the log entry", async () => {
      const page = await expectCall<{ data: { status: string; template: string }[] }>(
        "GET",
        `/v1/notifications?userId=${user.id}`,
        200,
        { token: tenant.key },
      );
      return page.data.find((entry) => entry.template === "user.created" && entry.status === "sent");
    });
    expect(log.status).toBe("sent");
    const response = await call("POST", `/v1/notifications/unsubscribe?token=${token}`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(response.status).toBe(200);
    const prefs = await expectCall<{ optedOut: string[] }>(
      "GET",
      `/v1/users/${user.id}/notification-preferences`,
      200,
      {
        token: tenant.key,
      },
    );
    expect(prefs.optedOut).toEqual(["onboarding"]);
  });

  it("sends the password reset email whose link resets the password", async () => {
    const email = uniqueEmail("reset");
    await createUser({ email, name: "Reset Me", password: "an old password that is long" });
    await expectCall("POST", "/v1/password-resets", 202, { token: tenant.key, body: { email } });
    const mail = await mailTo(email, /^Reset your Acme password$/);
    const link = /https:\/\/app\.acme\.test\/reset\?token=([A-Za-z0-9_%-]+)/.exec(mail.text ?? "");
    expect(link).not.toBeNull();
    expect(mail.html).toContain(`href="https://app.acme.test/reset?token=${link?.[1]}"`);
    expect(mail.headerLines.some((line) => line.key === "list-unsubscribe")).toBe(false);
    await expectCall("POST", "/v1/password-resets/confirm", 204, {
      token: tenant.key,
      body: { token: decodeURIComponent(link?.[1] ?? ""), password: "a brand new password here" },
    });
  });

  it("encodes a non-ASCII subject (RFC 2047) and keeps a body line starting with a dot (dot-stuffing)", async () => {
    await expectCall("POST", "/v1/notification-templates", 201, {
      token: tenant.key,
      body: {
        name: "Welcome (fr)",
        event: "user.created",
        channel: "email",
        locale: "fr",
        subject: "Bienvenue à {{app.name}}, {{user.name}} ✓",
        html: "<p>Bonjour {{user.name}}</p>\n.<p>ligne avec un point</p>",
        text: "Bonjour {{user.name}}\n.ligne qui commence par un point\n..deux points",
      },
    });
    await expectCall("PUT", "/v1/notification-settings", 200, {
      token: tenant.key,
      body: {
        appName: "Acme",
        defaultLocale: "fr",
        links: { passwordReset: "https://app.acme.test/reset?token={{token}}" },
      },
    });
    const email = uniqueEmail("zoe");
    await createUser({ email, name: "Zoë Ünal" });
    const mail = await mailTo(email, /^Bienvenue/);
    expect(mail.subject).toBe("Bienvenue à Acme, Zoë Ünal ✓");
    const raw = mail.headerLines.find((line) => line.key === "subject")?.line ?? "";
    expect(raw).toMatch(/=\?UTF-8\?B\?/);
    expect(mail.text).toBe("Bonjour Zoë Ünal\n.ligne qui commence par un point\n..deux points");
    expect(mail.html).toContain(".<p>ligne avec un point</p>");
  });

  it("retries a refused login until the limit, then logs the failure with the server's reply", async () => {
    await expectCall("PUT", "/v1/notification-channels", 200, {
      token: tenant.key,
      body: {
        email: smtpChannel("wrong password"),
      },
    });
    const user = await createUser({ email: uniqueEmail("refused"), name: "Refused" });
    const entry = await eventually("the failure", async () => {
      const page = await expectCall<{ data: { status: string; attempts: number; error: string }[] }>(
        "GET",
        `/v1/notifications?userId=${user.id}`,
        200,
        { token: tenant.key },
      );
      return page.data.find((e) => e.status === "failed");
    });
    // 535 is permanent (RFC 5321 §4.2.1: 5yz): no retry
    expect(entry.error).toMatch(/^SMTP: AUTH PLAIN \*\*\*\*: 535/);
    expect(entry.error).not.toContain("wrong password");
    expect(entry.attempts).toBe(1);
  });

  it("negotiates STARTTLS; the self-signed certificate of the test server is refused by workerd", async () => {
    // smtp-server's built-in certificate is self-signed; workerd verifies against its own trust store, which a test
    // cannot extend, so the handshake fails after the server accepted STARTTLS (docs/notifications.md). The
    // server's log shows the commands the client sent.
    const commands: string[] = [];
    const record = (...args: unknown[]) => {
      const text = args.map(String).join(" ");
      const command = /^C: (\S+)/.exec(text.replace(/^\[[^\]]*\]\s*/, ""));
      if (command?.[1]) commands.push(command[1]);
    };
    const logger = {
      info: record,
      debug: record,
      error: record,
      warn: record,
      trace: record,
      fatal: record,
      child: () => logger,
    };
    const secure = await startSmtp({ server: { disabledCommands: ["AUTH"], authOptional: true, logger } as never });
    try {
      await expectCall("PUT", "/v1/notification-channels", 200, {
        token: tenant.key,
        body: {
          email: { provider: "smtp", host: "127.0.0.1", port: secure.port, security: "starttls", from: "a@acme.test" },
        },
      });
      const user = await createUser({ email: uniqueEmail("tls"), name: "TLS" });
      const entry = await eventually("the TLS failure", async () => {
        const page = await expectCall<{ data: { status: string; error: string }[] }>(
          "GET",
          `/v1/notifications?userId=${user.id}`,
          200,
          { token: tenant.key },
        );
        return page.data.find((e) => e.status === "failed");
      });
      expect(entry.error).toMatch(/^SMTP: TLS handshake after STARTTLS failed/);
      expect(commands.slice(0, 2)).toEqual(["EHLO", "STARTTLS"]);
      expect(commands).not.toContain("MAIL");
      expect(secure.messages).toEqual([]);
    } finally {
      await secure.close();
    }
  });
});

describe("HTTP providers", () => {
  let api: Receiver;
  beforeAll(async () => {
    api = await startReceiver();
    api.reply = (request) =>
      request.path.includes("/Messages.json")
        ? { status: 201, body: JSON.stringify({ sid: "SM123" }), headers: { "content-type": "application/json" } }
        : { status: 200, body: JSON.stringify({ id: "email-1" }), headers: { "content-type": "application/json" } };
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("sends email through a Resend-style API and SMS through a Twilio-compatible one", async () => {
    await expectCall("PUT", "/v1/notification-channels", 200, {
      token: tenant.key,
      body: {
        email: {
          provider: "http",
          format: "resend",
          url: `${api.url}/emails`,
          apiKey: "re_test_key",
          from: "Acme <a@acme.test>",
        },
        sms: {
          provider: "twilio",
          accountSid: "AC42",
          authToken: "twilio-token",
          from: "+15005550006",
          baseUrl: api.url,
        },
      },
    });
    await expectCall("PUT", "/v1/notification-settings", 200, {
      token: tenant.key,
      body: { appName: "Acme", links: { passwordReset: "https://app.acme.test/reset?token={{token}}" } },
    });
    const email = uniqueEmail("http");
    await createUser({ email, name: "Http", phone: "+14155550123" });
    await expectCall("POST", "/v1/password-resets", 202, { token: tenant.key, body: { email } });

    const mail = await eventually("the email API call", async () =>
      api.requests.find((r) => r.path === "/emails" && r.body.includes(email) && r.body.includes("Reset")),
    );
    expect(mail.method).toBe("POST");
    expect(mail.headers.authorization).toBe("Bearer re_test_key");
    const payload = JSON.parse(mail.body);
    expect(payload).toMatchObject({
      from: "Acme <a@acme.test>",
      to: [`Http <${email}>`],
      subject: "Reset your Acme password",
    });
    expect(payload.text).toMatch(/https:\/\/app\.acme\.test\/reset\?token=/);

    const sms = await eventually("the SMS API call", async () =>
      api.requests.find((r) => r.path === "/2010-04-01/Accounts/AC42/Messages.json"),
    );
    expect(sms.headers.authorization).toBe(`Basic ${Buffer.from("AC42:twilio-token").toString("base64")}`);
    expect(sms.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(sms.body);
    expect(form.get("To")).toBe("+14155550123");
    expect(form.get("From")).toBe("+15005550006");
    expect(form.get("Body")).toMatch(/^Acme: reset your password with https:\/\/app\.acme\.test\/reset\?token=/);
  });

  it("sends a Postmark-style request", async () => {
    await expectCall("PUT", "/v1/notification-channels", 200, {
      token: tenant.key,
      body: {
        email: {
          provider: "http",
          format: "postmark",
          url: `${api.url}/email`,
          apiKey: "pm-token",
          from: "a@acme.test",
        },
      },
    });
    const email = uniqueEmail("postmark");
    await createUser({ email, name: "Post Mark" });
    await expectCall("POST", "/v1/password-resets", 202, { token: tenant.key, body: { email } });
    const request = await eventually("the Postmark call", async () =>
      api.requests.find((r) => r.path === "/email" && r.body.includes(email) && r.body.includes("Reset")),
    );
    expect(request.headers["x-postmark-server-token"]).toBe("pm-token");
    expect(JSON.parse(request.body)).toMatchObject({ From: "a@acme.test", Subject: "Reset your Acme password" });
  });
});

/** A push service (RFC 8030) on node:http that keeps each request's body as bytes (it is ciphertext). */
async function startPushService() {
  const requests: { path: string; headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(201, { location: "/messages/1" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("Web Push", () => {
  let pushService: Awaited<ReturnType<typeof startPushService>>;
  beforeAll(async () => {
    pushService = await startPushService();
  });
  afterAll(async () => {
    await pushService?.close();
  });

  it("delivers a payload the subscriber decrypts (RFC 8291), with a VAPID JWT (RFC 8292)", async () => {
    const channels = await expectCall<{ push: { publicKey: string } }>("PUT", "/v1/notification-channels", 200, {
      token: tenant.key,
      body: {
        email: {
          provider: "http",
          format: "postmark",
          url: `${pushService.url}/ignored`,
          apiKey: "k",
          from: "a@acme.test",
        },
        push: { subject: "mailto:ops@acme.test" },
      },
    });
    await expectCall("POST", "/v1/notification-templates", 201, {
      token: tenant.key,
      body: {
        name: "Reset (push)",
        event: "user.password_reset_requested",
        channel: "push",
        locale: "en",
        subject: "Reset requested",
        text: "Hello {{user.name}}, a reset was asked for.",
      },
    });
    const email = uniqueEmail("push");
    const user = await createUser({ email, name: "Pushy" });
    const subscriber = createECDH("prime256v1");
    subscriber.generateKeys();
    const auth = randomBytes(16);
    await expectCall("POST", `/v1/users/${user.id}/push-subscriptions`, 201, {
      token: tenant.key,
      body: {
        endpoint: `${pushService.url}/push/${randomBytes(8).toString("hex")}`,
        keys: { p256dh: subscriber.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      },
    });
    await expectCall("POST", "/v1/password-resets", 202, { token: tenant.key, body: { email } });
    const request = await eventually("the push", async () =>
      pushService.requests.find((r) => r.path.startsWith("/push/")),
    );
    expect(request.headers["content-encoding"]).toBe("aes128gcm");
    expect(String(request.headers.ttl)).toMatch(/^\d+$/);
    const [, jwt, k] = /^vapid t=([^,]+), k=(.+)$/.exec(String(request.headers.authorization)) ?? [];
    expect(k).toBe(channels.push.publicKey);
    const raw = Buffer.from(k ?? "", "base64url");
    const key = await importJWK(
      {
        kty: "EC",
        crv: "P-256",
        x: raw.subarray(1, 33).toString("base64url"),
        y: raw.subarray(33).toString("base64url"),
      },
      "ES256",
    );
    const { payload } = await jwtVerify(jwt ?? "", key, { audience: pushService.url });
    expect(payload.sub).toBe("mailto:ops@acme.test");

    const plain = ece.decrypt(request.body, { version: "aes128gcm", privateKey: subscriber, authSecret: auth });
    expect(JSON.parse(plain.toString("utf8"))).toEqual({
      title: "Reset requested",
      body: "Hello Pushy, a reset was asked for.",
      event: "user.password_reset_requested",
    });
  });
});
