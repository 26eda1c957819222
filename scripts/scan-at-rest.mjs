// `npm run test:at-rest` (and the end of `npm test`): proves that no personal data or secret reaches the disk.
// 1. Starts the worker locally (wrangler's programmatic API, workerd, every binding simulated) persisting into a
//    fresh temporary directory, on a random free port, with throwaway secrets.
// 2. Drives it over HTTP with marker values: a tenant, users with emails, phones and passwords (single, bulk,
//    merge patch, idempotent create, password change, found by search on part of the email), a TOTP enrolment with its recovery codes, an OAuth client
//    and password logins (one wrong), a password-reset request, an HTTP action, a plugin's secret configuration,
//    a webhook endpoint whose secret is rotated, notification channels with credentials and a Web Push subscription,
//    a report schedule's recipients.
// 3. Stops it, then reads every file under the directory (SQLite databases, -wal and -shm files, KV and Durable
//    Object storage) byte by byte for each marker, as given and lower-cased. Any hit fails (exit 1).
// SCAN_AT_REST_LOG=info shows wrangler's and the worker's logs; SCAN_AT_REST_KEEP=1 keeps the directory.
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { generate } from "otplib";
import { loadWranglerEnv, ROOT, randomBase64, randomHex } from "./env.mjs";

loadWranglerEnv();
const { unstable_startWorker: startWorker } = await import("wrangler");

const ADMIN_TOKEN = `scan_${randomHex(24)}`;
const PERSIST = mkdtempSync(join(tmpdir(), "uom-at-rest-"));
const TAG = randomHex(4).toUpperCase();

/** Marker value → what it is. Every value is random, so a hit can only come from this run. */
const markers = new Map([[ADMIN_TOKEN, "the admin token"]]);
function mark(what, value) {
  markers.set(value, what);
  return value;
}
// the local part too: the search index (keyed n-grams of emails) must not hold any longer run of an address
function email(label) {
  mark(`email local part (${label})`, `Scan.${label}.${TAG}`);
  return mark(`email (${label})`, `Scan.${label}.${TAG}@Example.COM`);
}
const password = (label) => mark(`password (${label})`, `Scan-${label}-Pass-${randomHex(6)}`);
function phone(label) {
  const digits = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b % 10).join("");
  return mark(`phone (${label})`, `+1${2 + (Number(digits[0]) % 8)}${digits.slice(1)}`);
}

const worker = await startWorker({
  config: join(ROOT, "wrangler.toml"),
  envFiles: [],
  bindings: {
    ADMIN_TOKEN: { type: "secret_text", value: ADMIN_TOKEN },
    MASTER_KEY: { type: "secret_text", value: randomBase64(32) },
    LOG_LEVEL: { type: "plain_text", value: process.env.SCAN_AT_REST_LOG ? "info" : "silent" },
  },
  sendMetrics: false,
  dev: {
    remote: false,
    persist: PERSIST,
    watch: false,
    inspector: false,
    logLevel: process.env.SCAN_AT_REST_LOG ?? "warn",
    server: { hostname: "127.0.0.1", port: 0 },
  },
});

/** One call; fails the run unless the status is one of `expect`. */
async function api(method, path, { token, body, form, headers = {}, expect = [200] } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (form !== undefined) {
    init.headers["content-type"] = "application/x-www-form-urlencoded";
    init.body = new URLSearchParams(form).toString();
  }
  const response = await worker.fetch(`http://localhost${path}`, init);
  const text = await response.text();
  if (!expect.includes(response.status)) {
    throw new Error(
      `${method} ${path} answered ${response.status} (expected ${expect.join("|")}): ${text.slice(0, 300)}`,
    );
  }
  return text ? JSON.parse(text) : null;
}

/** Everything a tenant does with personal data and secrets; returns a stored value the scan must find. */
async function exercise() {
  const tenant = await api("POST", "/v1/tenants", {
    token: ADMIN_TOKEN,
    body: { name: "At-rest scan", plan: "enterprise" },
    expect: [201],
  });
  const key = mark("the tenant's API key", tenant.apiKey.secret);
  await api("POST", "/v1/schema/fields", {
    token: key,
    body: { name: "nationalId", type: "string", pii: true, filterable: true, unique: true },
    expect: [201],
  });
  const nationalId = (label) => ({ nationalId: mark(`pii field (${label})`, `NID-${label}-${TAG}-${randomHex(4)}`) });
  // notification channels: their credentials are sealed (the VAPID private key is generated inside, so it has no
  // marker here; it is sealed by the same code as these). Set before the users, so their notifications are tried.
  await api("PUT", "/v1/notification-channels", {
    token: key,
    body: {
      email: {
        provider: "smtp",
        host: "127.0.0.1",
        port: 9,
        security: "none",
        username: "scan",
        password: mark("an SMTP password", `Scan-Smtp-${TAG}-${randomHex(6)}`),
        from: "Scan <scan@example.com>",
      },
      sms: {
        provider: "twilio",
        accountSid: "ACscan",
        authToken: mark("an SMS auth token", `Scan-Sms-${TAG}-${randomHex(6)}`),
        from: "+15005550006",
        baseUrl: "http://127.0.0.1:9",
      },
      push: { subject: "mailto:scan@example.com" },
    },
  });

  const login = { email: email("Login"), password: password("Login") };
  const first = await api("POST", "/v1/users", {
    token: key,
    body: {
      email: email("Single"),
      phone: phone("Single"),
      password: password("Single"),
      name: "Scan Single",
      attributes: nationalId("Single"),
    },
    expect: [201],
  });
  await api("PATCH", `/v1/users/${first.id}`, {
    token: key,
    body: { email: login.email, phone: phone("Patched"), password: login.password, attributes: nationalId("Patched") },
  });
  const bulk = await api("POST", "/v1/users/bulk", {
    token: key,
    body: {
      operations: [
        {
          op: "create",
          data: {
            email: email("BulkOne"),
            phone: phone("BulkOne"),
            password: password("Bulk"),
            attributes: nationalId("BulkOne"),
          },
        },
        { op: "create", data: { email: email("BulkTwo") } },
        { op: "update", id: first.id, data: { phone: phone("BulkUpdate") } },
      ],
    },
  });
  const created = bulk.results.map((r) => r.id);
  // the search tables hold what they should (so that finding no marker in them means something)
  const part = `bulkone.${TAG}@exa`.toLowerCase();
  for (const query of [`q=${encodeURIComponent(part)}`, `filter=${encodeURIComponent(`email co "${part}"`)}`]) {
    const found = await api("GET", `/v1/users?${query}`, { token: key });
    if (found.data.length !== 1 || found.data[0].id !== created[0]) throw new Error(`search ${query} missed the user`);
  }
  const idempotent = { email: email("Idempotent"), phone: phone("Idempotent") };
  for (let attempt = 0; attempt < 2; attempt++) {
    await api("POST", "/v1/users", {
      token: key,
      body: idempotent,
      headers: { "idempotency-key": `scan-${TAG}` },
      expect: [201],
    });
  }
  const subscriber = createECDH("prime256v1");
  subscriber.generateKeys();
  await api("POST", `/v1/users/${created[1]}/push-subscriptions`, {
    token: key,
    body: {
      endpoint: mark("a push endpoint", `https://push.example.net/scan-${TAG}-${randomHex(6)}`),
      keys: {
        p256dh: mark("a push p256dh key", subscriber.getPublicKey().toString("base64url")),
        auth: mark("a push auth secret", randomBytes(16).toString("base64url")),
      },
    },
    expect: [201],
  });
  await api("POST", `/v1/users/${created[1]}/password`, {
    token: key,
    body: { password: password("Set") },
    expect: [200, 204],
  });

  const enrolment = await api("POST", `/v1/users/${created[0]}/mfa/totp`, { token: key, expect: [200, 201] });
  mark("a TOTP secret", enrolment.secret);
  const { recoveryCodes } = await api("POST", `/v1/users/${created[0]}/mfa/totp/verify`, {
    token: key,
    body: { code: await generate({ secret: enrolment.secret, epoch: Math.floor(Date.now() / 1000) }) },
  });
  for (const code of recoveryCodes) mark("a recovery code", code);

  const client = await api("POST", "/v1/oauth/clients", {
    token: key,
    body: { name: "Scan client", grantTypes: ["password", "refresh_token"], roles: ["basic"] },
    expect: [201],
  });
  mark("a client secret", client.clientSecret);
  const credentials = { client_id: client.clientId, client_secret: client.clientSecret };
  await api("POST", "/oauth/token", {
    form: { ...credentials, grant_type: "password", username: login.email, password: password("Wrong") },
    expect: [400],
  });
  const tokens = await api("POST", "/oauth/token", {
    form: { ...credentials, grant_type: "password", username: login.email.toLowerCase(), password: login.password },
  });
  mark("an access token", tokens.access_token);
  mark("a refresh token", tokens.refresh_token);
  await api("POST", "/v1/password-resets", { token: key, body: { email: login.email }, expect: [202] });
  // an HTTP action's signing secret (shown once) and a plugin's secret configuration member (sealed)
  const action = await api("POST", "/v1/actions", {
    token: key,
    body: { url: "https://hooks.example.com/uom", trigger: "user.create.before", enabled: false },
    expect: [201],
  });
  mark("an HTTP action's signing secret", action.secret);
  const crmSecret = mark("a plugin's secret config (crm-sync secret)", `whsec_${randomBase64(32)}`);
  await api("PUT", "/v1/plugins/crm-sync", {
    token: key,
    body: {
      enabled: false,
      config: { url: "https://crm.example.com/users", secret: crmSecret, fieldMap: { email: "Email" } },
    },
  });
  const oidcSecret = mark("a plugin's secret config (oidc-login clientSecret)", `oidc-${randomHex(20)}`);
  await api("PUT", "/v1/plugins/oidc-login", {
    token: key,
    body: {
      enabled: true,
      config: {
        issuer: "https://accounts.example.com",
        clientId: "uom-scan",
        clientSecret: oidcSecret,
        redirectUris: ["https://app.example.com/callback"],
      },
    },
  });
  // a webhook endpoint (nothing listens at its address), its secret rotated: both secrets stay sealed, and a test
  // send signs a request with both
  const webhook = await api("POST", "/v1/webhooks", {
    token: key,
    body: { url: "http://127.0.0.1:9/scan-hook", events: ["user.*"] },
    expect: [201],
  });
  mark("a webhook secret", webhook.secret);
  mark("a webhook secret's key", webhook.secret.slice("whsec_".length));
  const rotated = await api("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, { token: key });
  mark("a rotated webhook secret", rotated.secret);
  mark("a rotated webhook secret's key", rotated.secret.slice("whsec_".length));
  await api("POST", `/v1/webhooks/${webhook.id}/test`, { token: key, expect: [202] });
  // a scheduled report: its recipients are personal data, sealed (the audit trail records only how many)
  const report = await api("POST", "/v1/reports/schedules", {
    token: key,
    body: { name: "Scan", report: "new-users", frequency: "daily", format: "html", recipients: [email("Report")] },
    expect: [201],
  });
  await api("PATCH", `/v1/reports/schedules/${report.id}`, { token: key, body: { recipients: [email("Report2")] } });
  return tenant.id;
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** Every marker, as given and lower-cased, searched for in every byte of every file. */
function scan(expected) {
  const needles = [...markers].flatMap(([value, what]) =>
    [...new Set([value, value.toLowerCase()])].map((form) => ({ form, what, bytes: Buffer.from(form) })),
  );
  const files = filesUnder(PERSIST);
  const hits = [];
  let sawExpected = false;
  for (const file of files) {
    const content = readFileSync(file);
    if (content.includes(Buffer.from(expected))) sawExpected = true;
    for (const needle of needles) {
      if (content.includes(needle.bytes)) hits.push(`${relative(PERSIST, file)}: ${needle.what} (${needle.form})`);
    }
  }
  return { files, hits, sawExpected };
}

let exitCode = 0;
let tenantId;
try {
  await worker.ready;
  tenantId = await exercise();
} catch (error) {
  console.error(`scan-at-rest: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
} finally {
  await worker.dispose();
}
if (exitCode === 0) {
  const { files, hits, sawExpected } = scan(tenantId);
  if (!sawExpected) {
    // the scan must see what the worker stored, or finding nothing would prove nothing
    console.error(`scan-at-rest: the tenant id ${tenantId} is in none of ${files.length} files; is persistence on?`);
    exitCode = 1;
  } else if (hits.length > 0) {
    console.error(`scan-at-rest: FAILED, plaintext at rest:\n  ${hits.join("\n  ")}`);
    exitCode = 1;
  } else {
    console.log(`scan-at-rest: ${markers.size} markers, ${files.length} files: no plaintext personal data or secret`);
  }
}
if (process.env.SCAN_AT_REST_KEEP) console.log(`scan-at-rest: kept ${PERSIST}`);
else rmSync(PERSIST, { recursive: true, force: true });
process.exit(exitCode);
