import { beforeAll, describe, expect, it } from "vitest";
import { localeChain } from "../../src/modules/notifications/catalogue";
import { render, templateProblems } from "../../src/modules/notifications/render";
import { resolveTemplate } from "../../src/modules/notifications/templates.service";
import { call, createKey, createTenant, expectProblem, json, type TestTenant } from "../helpers/api";
import { dumpDatabase, tenantDatabase } from "../helpers/db";

// Templates (CRUD, validation, preview, escaping, defaults, locale fallback), channels (redaction, validation,
// sealed credentials, plan) and settings, on one tenant.

let tenant: TestTenant;
let db: D1Database;

beforeAll(async () => {
  tenant = await createTenant({ name: "Notification templates" });
  db = await tenantDatabase(tenant.id);
});

interface Template {
  id: string;
  event: string;
  channel: string;
  locale: string;
  subject: string | null;
  html: string | null;
  text: string;
  builtIn: boolean;
  variables: string[];
}

const welcomeFr = {
  name: "Bienvenue",
  event: "user.created",
  channel: "email",
  locale: "fr",
  subject: "Bienvenue {{ user.name }} sur {{app.name}}",
  html: '<p>Bonjour {{user.name}}, <a href="{{link}}">ici</a></p>',
  text: "Bonjour {{user.name}}",
};

describe("the renderer", () => {
  it("escapes values in html, not in text; unknown variables render empty and are reported", () => {
    const data = { user: { name: `<script>alert("x")</script> & 'co'` } };
    expect(render("Hi {{user.name}}{{user.nick}}", data, "html")).toEqual({
      output: "Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;",
      missing: ["user.nick"],
    });
    expect(render("Hi {{ user.name }}", data, "text").output).toBe(`Hi <script>alert("x")</script> & 'co'`);
    // objects and prototype members are not values
    expect(render("{{user}}{{user.constructor}}", data, "text")).toEqual({
      output: "",
      missing: ["user", "user.constructor"],
    });
  });

  it("refuses triple braces, bad names and unbalanced braces", () => {
    expect(templateProblems("{{{user.name}}}")).toHaveLength(1);
    expect(templateProblems("{{ user..name }}")).toHaveLength(1);
    expect(templateProblems("Hello {{user.name")).toHaveLength(1);
    expect(templateProblems("Hello {{user.name}} and {{ app.name }}")).toEqual([]);
  });

  it("falls back from a region to its language, then the default locale, then en", () => {
    expect(localeChain("fr-ca", "de")).toEqual(["fr-CA", "fr", "de", "en"]);
    expect(localeChain(null, "en")).toEqual(["en"]);
  });
});

describe("notification templates", () => {
  let created: Template;

  it("creates a template, lists it before the defaults, reads it", async () => {
    const response = await call("POST", "/v1/notification-templates", { token: tenant.key, body: welcomeFr });
    expect(response.status).toBe(201);
    created = await json<Template>(response);
    expect(created).toMatchObject({ event: "user.created", locale: "fr", builtIn: false });
    expect(created.id).toMatch(/^ntp_/);
    expect(created.variables).toEqual(["user.name", "app.name", "link"]);
    expect(response.headers.get("location")).toBe(`/v1/notification-templates/${created.id}`);

    const list = await json<{ data: Template[] }>(
      await call("GET", "/v1/notification-templates", { token: tenant.key }),
    );
    expect(list.data[0]?.id).toBe(created.id);
    const defaults = list.data.filter((t) => t.builtIn).map((t) => `${t.event}/${t.channel}/${t.locale}`);
    for (const event of [
      "user.created",
      "user.email_verification_requested",
      "user.password_reset_requested",
      "user.activation_reminder",
      "user.login.new_device",
    ]) {
      expect(defaults).toContain(`${event}/email/en`);
    }
    const own = await json<{ data: Template[] }>(
      await call("GET", "/v1/notification-templates?includeDefaults=false&channel=email", { token: tenant.key }),
    );
    expect(own.data.map((t) => t.id)).toEqual([created.id]);

    const read = await call("GET", `/v1/notification-templates/${created.id}`, { token: tenant.key });
    expect(await json(read)).toEqual(created);
  });

  it("refuses a second template for the same event, channel and locale (409), changing nothing", async () => {
    const before = await dumpDatabase(db);
    await expectProblem(
      await call("POST", "/v1/notification-templates", { token: tenant.key, body: { ...welcomeFr, locale: "FR" } }),
      409,
      "TEMPLATE_EXISTS",
    );
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("validates content per channel and the template syntax, one error per field", async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ ...welcomeFr, locale: "de", subject: null }, ["subject"]],
      [{ ...welcomeFr, locale: "de", html: "<p>{{{user.name}}}</p>" }, ["html"]],
      [{ ...welcomeFr, locale: "de", text: "Hi {{user.name" }, ["text"]],
      [{ ...welcomeFr, locale: "de", channel: "sms" }, ["subject", "html"]],
      [{ ...welcomeFr, locale: "de", channel: "sms", subject: null, html: null, text: "x".repeat(1601) }, ["text"]],
      [{ ...welcomeFr, event: "user.updated" }, ["event"]],
      [{ ...welcomeFr, locale: "not a locale" }, ["locale"]],
      [{ ...welcomeFr, extra: 1 }, []],
    ];
    const before = await dumpDatabase(db);
    for (const [body, fields] of cases) {
      const problem = await expectProblem(
        await call("POST", "/v1/notification-templates", { token: tenant.key, body }),
        400,
        "VALIDATION_FAILED",
      );
      for (const field of fields) expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("previews with sample data or the given data, escaping html and listing missing variables", async () => {
    const sample = await json<{ subject: string; html: string; text: string; warnings: string[] }>(
      await call("POST", `/v1/notification-templates/${created.id}/preview`, { token: tenant.key }),
    );
    expect(sample.subject).toBe("Bienvenue Ada Lovelace sur Example");
    expect(sample.warnings).toEqual(["link"]);

    const given = await json<{ subject: string; html: string; text: string; warnings: string[] }>(
      await call("POST", `/v1/notification-templates/${created.id}/preview`, {
        token: tenant.key,
        body: { data: { user: { name: 'Bob <b>"&' }, app: { name: "Acme" }, link: "https://x.test/?a=1&b=2" } },
      }),
    );
    expect(given).toEqual({
      subject: 'Bienvenue Bob <b>"& sur Acme',
      html: '<p>Bonjour Bob &lt;b&gt;&quot;&amp;, <a href="https://x.test/?a=1&amp;b=2">ici</a></p>',
      text: 'Bonjour Bob <b>"&',
      warnings: [],
    });

    const preset = await json<{ subject: string; text: string }>(
      await call("POST", "/v1/notification-templates/default.user.password_reset_requested.email.en/preview", {
        token: tenant.key,
        body: { data: { user: { name: "Ada" }, app: { name: "Acme" }, link: "https://app.test/r?t=abc" } },
      }),
    );
    expect(preset.subject).toBe("Reset your Acme password");
    expect(preset.text).toContain("Choose a new password: https://app.test/r?t=abc");
  });

  it("changes and deletes its own templates; defaults are read-only", async () => {
    const patched = await call("PATCH", `/v1/notification-templates/${created.id}`, {
      token: tenant.key,
      body: { subject: "Salut {{user.name}}", html: null },
    });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ subject: "Salut {{user.name}}", html: null, text: welcomeFr.text });
    await expectProblem(
      await call("PATCH", `/v1/notification-templates/${created.id}`, { token: tenant.key, body: { subject: null } }),
      400,
      "VALIDATION_FAILED",
    );
    const defaultId = "default.user.created.email.en";
    expect((await call("GET", `/v1/notification-templates/${defaultId}`, { token: tenant.key })).status).toBe(200);
    await expectProblem(
      await call("PATCH", `/v1/notification-templates/${defaultId}`, { token: tenant.key, body: { name: "x" } }),
      409,
      "DEFAULT_TEMPLATE",
    );
    await expectProblem(await call("DELETE", `/v1/notification-templates/${defaultId}`, { token: tenant.key }), 409);
    await expectProblem(
      await call("GET", "/v1/notification-templates/default.user.created.email.xx", { token: tenant.key }),
      404,
      "TEMPLATE_NOT_FOUND",
    );
  });

  it("resolves a message's template: the tenant's own along the locale chain first, then the defaults", async () => {
    const pick = async (locale: string | null, defaultLocale = "en") =>
      (await resolveTemplate(db, "user.created", "email", locale, defaultLocale))?.id;
    expect(await pick("fr-CA")).toBe(created.id);
    expect(await pick("en-GB")).toBe("default.user.created.email.en");
    expect(await pick(null, "fr")).toBe(created.id);
    expect(await pick("de")).toBe("default.user.created.email.en");
    expect(await resolveTemplate(db, "user.created", "sms", "fr", "en")).toBeNull();

    expect((await call("DELETE", `/v1/notification-templates/${created.id}`, { token: tenant.key })).status).toBe(204);
    expect(await pick("fr-CA")).toBe("default.user.created.email.fr");
    await expectProblem(await call("DELETE", `/v1/notification-templates/${created.id}`, { token: tenant.key }), 404);
  });

  it("lets the manager role read but not write", async () => {
    const manager = await createKey(tenant, ["manager"]);
    expect((await call("GET", "/v1/notification-templates", { token: manager.secret })).status).toBe(200);
    await expectProblem(
      await call("POST", "/v1/notification-templates", { token: manager.secret, body: welcomeFr }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("notification channels", () => {
  const smtp = {
    provider: "smtp",
    host: "smtp.example.com",
    port: 587,
    security: "starttls",
    username: "mailer",
    password: "Smtp-Password-Marker-1",
    from: "Example <no-reply@example.com>",
  };
  const sms = { provider: "twilio", accountSid: "AC123", authToken: "Sms-Token-Marker-1", from: "+15005550006" };

  it("stores channels with credentials sealed and answers them redacted", async () => {
    const response = await call("PUT", "/v1/notification-channels", {
      token: tenant.key,
      body: { email: smtp, sms, push: { subject: "mailto:ops@example.com" } },
    });
    expect(response.status).toBe(200);
    const view = await json<Record<string, Record<string, unknown>>>(response);
    expect(view.email).toEqual({ ...smtp, password: undefined, hasPassword: true });
    expect(view.email).not.toHaveProperty("password");
    expect(view.sms).toMatchObject({ accountSid: "AC123", hasAuthToken: true });
    expect(view.sms).not.toHaveProperty("authToken");
    expect(view.push?.subject).toBe("mailto:ops@example.com");
    expect(String(view.push?.publicKey)).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const dump = await dumpDatabase(db);
    expect(dump).not.toContain("Smtp-Password-Marker-1");
    expect(dump).not.toContain("Sms-Token-Marker-1");
    expect(dump).not.toContain('"d":');
    expect(await json(await call("GET", "/v1/notification-channels", { token: tenant.key }))).toEqual(view);
  });

  it("keeps a stored credential when a PUT leaves it out, and the VAPID key unless rotated", async () => {
    const before = await json<Record<string, Record<string, unknown>>>(
      await call("GET", "/v1/notification-channels", { token: tenant.key }),
    );
    const { password: _p, ...withoutPassword } = smtp;
    const { authToken: _t, ...withoutToken } = sms;
    const kept = await json<Record<string, Record<string, unknown>>>(
      await call("PUT", "/v1/notification-channels", {
        token: tenant.key,
        body: {
          email: { ...withoutPassword, port: 2525 },
          sms: withoutToken,
          push: { subject: "mailto:ops@example.com" },
        },
      }),
    );
    expect(kept.email).toMatchObject({ port: 2525, hasPassword: true });
    expect(kept.sms).toMatchObject({ hasAuthToken: true });
    expect(kept.push?.publicKey).toBe(before.push?.publicKey);
    const rotated = await json<Record<string, Record<string, unknown>>>(
      await call("PUT", "/v1/notification-channels", {
        token: tenant.key,
        body: { email: smtp, push: { subject: "mailto:ops@example.com", rotateKeys: true } },
      }),
    );
    expect(rotated.push?.publicKey).not.toBe(before.push?.publicKey);
    expect(rotated.sms).toBeNull();
  });

  it("refuses bad settings, private hosts and missing credentials, changing nothing", async () => {
    const before = await dumpDatabase(db);
    const cases: [Record<string, unknown>, string][] = [
      [{ email: { ...smtp, host: "10.0.0.5" } }, "email.host"],
      [{ email: { ...smtp, host: "mail.internal" } }, "email.host"],
      [
        {
          email: { provider: "http", format: "resend", url: "https://192.168.1.1/emails", apiKey: "k", from: "a@b.c" },
        },
        "email.url",
      ],
      [
        {
          email: {
            provider: "http",
            format: "resend",
            url: "http://api.example.com/emails",
            apiKey: "k",
            from: "a@b.c",
          },
        },
        "email.url",
      ],
      [
        { email: { provider: "http", format: "postmark", url: "https://api.postmarkapp.com/email", from: "a@b.c" } },
        "email.apiKey",
      ],
      [{ sms: { ...sms, authToken: undefined, accountSid: "ACnew" }, email: smtp }, "sms.authToken"],
      [{ sms: { ...sms, baseUrl: "https://169.254.169.254" } }, "sms.baseUrl"],
      [{ email: { ...smtp, from: "not an address" } }, "email.from"],
      [{ email: { ...smtp, security: "ssl" } }, "email.security"],
      [{ push: { subject: "ops@example.com" } }, "push.subject"],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(
        await call("PUT", "/v1/notification-channels", { token: tenant.key, body }),
        400,
        "VALIDATION_FAILED",
      );
      expect(
        problem.errors?.map((e) => e.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(await dumpDatabase(db)).toBe(before);
  });

  it("gives SMS and push only to plans with notifications-sms-push; free keeps email", async () => {
    const free = await createTenant({ name: "Free notifications", plan: "free" });
    const ok = await call("PUT", "/v1/notification-channels", { token: free.key, body: { email: smtp } });
    expect(ok.status).toBe(200);
    const problem = await expectProblem(
      await call("PUT", "/v1/notification-channels", { token: free.key, body: { email: smtp, sms } }),
      403,
      "FEATURE_NOT_IN_PLAN",
    );
    expect(problem).toMatchObject({ feature: "notifications-sms-push", requiredPlan: "pro" });
  });
});

describe("notification settings", () => {
  it("has defaults, and stores links, locale and the reminder delay", async () => {
    expect(await json(await call("GET", "/v1/notification-settings", { token: tenant.key }))).toEqual({
      appName: "our service",
      defaultLocale: "en",
      links: {},
      activationReminderDays: 3,
    });
    const settings = {
      appName: "Acme",
      defaultLocale: "fr",
      links: { passwordReset: "https://app.acme.test/reset?token={{token}}" },
      activationReminderDays: 5,
    };
    const put = await call("PUT", "/v1/notification-settings", { token: tenant.key, body: settings });
    expect(await json(put)).toEqual(settings);
    expect(await json(await call("GET", "/v1/notification-settings", { token: tenant.key }))).toEqual(settings);
    await expectProblem(
      await call("PUT", "/v1/notification-settings", {
        token: tenant.key,
        body: { links: { signIn: "javascript:alert(1)" } },
      }),
      400,
    );
  });
});
