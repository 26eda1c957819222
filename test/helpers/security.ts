import { env } from "cloudflare:test";
import { generateApiKeySecret } from "../../src/core/auth/api-key-format";
import { runScheduledReports } from "../../src/modules/reports/reports.runner";
import { ADMIN_TOKEN, call, createSubAccount, createTenant, createUser, json, type TestTenant } from "./api";
import { storeChurnModel } from "./churn";
import { tenantDatabase } from "./db";

/**
 * The security checks every credentialed route must pass (DESIGN.md, convention 8), run on the route table
 * of the served OpenAPI document, so a new route is checked the day it is added. A route whose path
 * parameters no fixture below can fill makes the run fail: add a fixture when you add such a route.
 */

export type CredentialKind = "admin" | "tenant";

export interface SecuredRoute {
  method: string;
  /** OpenAPI template, e.g. `/v1/users/{id}`. */
  path: string;
  credentials: CredentialKind[];
  operationId: string;
  /** The permission a tenant credential needs (`x-permission`). */
  permission?: string;
  /** The plan feature the route belongs to (`x-plan-feature`). */
  feature?: string;
  /** An example request body, when the route takes one. */
  body?: unknown;
  /** Its errors are SCIM error bodies (RFC 7644 §3.12), not problems (`x-error-format: scim`). */
  scimErrors?: boolean;
  /** Its path parameter names a document every tenant has (SCIM discovery), so another tenant reaches it too. */
  sharedResource?: boolean;
}

export interface PublicRoute {
  method: string;
  path: string;
  /** An OAuth endpoint that authenticates the client instead of a Bearer credential (`x-client-authentication`). */
  clientAuthentication?: boolean;
  /** Authorised by a signed token in the query instead of a credential (`x-token-authentication`). */
  tokenAuthentication?: boolean;
}

interface Operation {
  operationId?: string;
  security?: unknown[];
  "x-credential"?: unknown;
  "x-permission"?: string;
  "x-plan-feature"?: string;
  "x-client-authentication"?: string[];
  "x-token-authentication"?: string;
  "x-error-format"?: string;
  "x-shared-resource"?: boolean;
  requestBody?: { content: Record<string, { example?: unknown; schema?: { $ref?: string; example?: unknown } }> };
}

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, { example?: unknown }> };
}

const METHODS = ["get", "put", "post", "delete", "patch"];

export interface SecurityWorld {
  /** The tenant whose resources the fixtures create. */
  a: TestTenant;
  /** Another tenant: it must never reach a's resources. */
  b: TestTenant;
  /** A sub-account of a, created with a's key: it must never reach a's resources nor its siblings'. */
  aChild: TestTenant;
  /**
   * Another sub-account of a, with a sub-account of its own: the tenant the `/v1/tenants/{id}` fixture names, so that
   * a's own key reaches it on every tenant route (a DELETE by a's key is a 409, nothing lost) and aChild's key must not.
   */
  aDept: TestTenant;
}

/**
 * How to fill a route's path parameters with real ids. A tenant-scoped fixture creates a fresh resource in
 * tenant `a` per call (so a destructive check cannot spoil the next one); an admin-scoped one names a tenant.
 */
export interface PathFixture {
  /** Matches the route template. */
  pattern: RegExp;
  fill(world: SecurityWorld): Promise<Record<string, string>>;
}

export const PATH_FIXTURES: PathFixture[] = [
  { pattern: /^\/v1\/tenants\/\{id\}$/, fill: async ({ aDept }) => ({ id: aDept.id }) },
  {
    pattern: /^\/v1\/users\/\{id\}\/push-subscriptions\/\{subscriptionId\}$/,
    fill: async ({ a }) => createPushSubscription(a),
  },
  { pattern: /^\/v1\/users\/\{id\}\/churn-risk$/, fill: async ({ a }) => ({ id: await createScoredUser(a) }) },
  { pattern: /^\/v1\/users\/\{id\}(\/|$)/, fill: async ({ a }) => ({ id: (await createUser(a)).id }) },
  { pattern: /^\/v1\/api-keys\/\{id\}(\/|$)/, fill: async ({ a }) => ({ id: await createApiKey(a) }) },
  { pattern: /^\/v1\/tenants\/\{id\}\/data-keys\/rotate$/, fill: async ({ a }) => ({ id: a.id }) },
  { pattern: /^\/v1\/oauth\/clients\/\{id\}$/, fill: async ({ a }) => ({ id: await createOAuthClient(a) }) },
  { pattern: /^\/v1\/schema\/fields\/\{name\}$/, fill: async ({ a }) => ({ name: await createField(a) }) },
  { pattern: /^\/v1\/roles\/\{name\}$/, fill: async ({ a }) => ({ name: await createRole(a) }) },
  { pattern: /^\/v1\/segments\/\{name\}$/, fill: async ({ a }) => ({ name: await createSegment(a) }) },
  { pattern: /^\/v1\/reports\/schedules\/\{id\}$/, fill: async ({ a }) => ({ id: await createReportSchedule(a) }) },
  { pattern: /^\/v1\/reports\/runs\/\{id\}(\/|$)/, fill: async ({ a }) => ({ id: await createReportRun(a) }) },
  { pattern: /^\/scim\/v2\/Users\/\{id\}$/, fill: async ({ a }) => ({ id: (await createUser(a)).id }) },
  { pattern: /^\/scim\/v2\/Groups\/\{id\}$/, fill: async ({ a }) => ({ id: await createScimGroup(a) }) },
  {
    pattern: /^\/scim\/v2\/Schemas\/\{id\}$/,
    fill: async () => ({ id: "urn:ietf:params:scim:schemas:core:2.0:User" }),
  },
  { pattern: /^\/scim\/v2\/ResourceTypes\/\{id\}$/, fill: async () => ({ id: "User" }) },
  { pattern: /^\/v1\/plan\/change-requests\/\{id\}$/, fill: async ({ a }) => ({ id: await askForPlan(a) }) },
  { pattern: /^\/v1\/plugins\/\{id\}$/, fill: async () => ({ id: "crm-sync" }) },
  { pattern: /^\/v1\/actions\/\{id\}(\/|$)/, fill: async ({ a }) => ({ id: await createAction(a) }) },
  {
    pattern: /^\/v1\/webhooks\/\{id\}\/deliveries\/\{deliveryId\}(\/|$)/,
    fill: async ({ a }) => createWebhookDelivery(a),
  },
  { pattern: /^\/v1\/webhooks\/\{id\}(\/|$)/, fill: async ({ a }) => ({ id: await createWebhook(a) }) },
  {
    pattern: /^\/v1\/notification-templates\/\{id\}(\/|$)/,
    fill: async ({ a }) => ({ id: await createNotificationTemplate(a) }),
  },
];

let templateCounter = 0;

/** A fresh notification template of the tenant (its own locale, so templates never collide). */
async function createNotificationTemplate(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/v1/notification-templates", {
    token: tenant.key,
    body: { name: "Fixture", event: "user.created", channel: "sms", locale: `en-x${++templateCounter}`, text: "Hi" },
  });
  if (response.status !== 201) throw new Error(`POST /v1/notification-templates answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/** A fresh user of the tenant with one Web Push subscription. */
async function createPushSubscription(tenant: TestTenant): Promise<{ id: string; subscriptionId: string }> {
  const user = await createUser(tenant);
  const response = await call("POST", `/v1/users/${user.id}/push-subscriptions`, {
    token: tenant.key,
    body: {
      endpoint: `https://push.example.net/${crypto.randomUUID()}`,
      keys: {
        p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        auth: "tBHItJI5svbpez7KI4CCXg",
      },
    },
  });
  if (response.status !== 201) throw new Error(`POST push-subscriptions answered ${response.status}`);
  return { id: user.id, subscriptionId: (await json<{ id: string }>(response)).id };
}

/** A fresh HTTP action of the tenant (its URL is never called by these checks). */
async function createAction(tenant: TestTenant): Promise<string> {
  const body = { url: "https://hooks.example.com/uom", trigger: "user.create.before", enabled: false };
  const response = await call("POST", "/v1/actions", { token: tenant.key, body });
  if (response.status !== 201) throw new Error(`POST /v1/actions answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/**
 * A fresh pending plan change request of the tenant (an enterprise one, asking for pro). One may be pending at a
 * time, so the previous one, if still pending, is cancelled first.
 */
async function askForPlan(tenant: TestTenant): Promise<string> {
  const plan = await call("GET", "/v1/plan", { token: tenant.key });
  const pending = (await json<{ pendingChangeRequest: { id: string } | null }>(plan)).pendingChangeRequest;
  if (pending) await call("DELETE", `/v1/plan/change-requests/${pending.id}`, { token: tenant.key });
  const response = await call("POST", "/v1/plan/change-requests", { token: tenant.key, body: { plan: "pro" } });
  if (response.status !== 201) throw new Error(`POST /v1/plan/change-requests answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/**
 * A fresh webhook endpoint of the tenant, listening to `webhook.test` only (no other event of the walks makes it a
 * delivery), at an address nothing answers (a `.invalid` name never resolves, RFC 6761 §6.4).
 */
async function createWebhook(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/v1/webhooks", {
    token: tenant.key,
    body: { url: "https://fixture.invalid/hook", events: ["webhook.test"] },
  });
  if (response.status !== 201) throw new Error(`POST /v1/webhooks answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/** A fresh endpoint with one delivery (a test send). */
async function createWebhookDelivery(tenant: TestTenant): Promise<{ id: string; deliveryId: string }> {
  const id = await createWebhook(tenant);
  const response = await call("POST", `/v1/webhooks/${id}/test`, { token: tenant.key });
  if (response.status !== 202) throw new Error(`POST /v1/webhooks/{id}/test answered ${response.status}`);
  return { id, deliveryId: (await json<{ id: string }>(response)).id };
}

let fieldCounter = 0;

/** A fresh optional custom field of the tenant, to be read, changed or deleted by a check. */
async function createField(tenant: TestTenant): Promise<string> {
  const name = `fixture${++fieldCounter}`;
  const response = await call("POST", "/v1/schema/fields", { token: tenant.key, body: { name, type: "string" } });
  if (response.status !== 201) throw new Error(`POST /v1/schema/fields answered ${response.status}`);
  return name;
}

let segmentCounter = 0;

/** A fresh saved segment of the tenant, to be read, changed or deleted by a check. */
async function createSegment(tenant: TestTenant): Promise<string> {
  const name = `fixture-${++segmentCounter}-${crypto.randomUUID().slice(0, 8)}`;
  const response = await call("POST", "/v1/segments", { token: tenant.key, body: { name, filter: "status pr" } });
  if (response.status !== 201) throw new Error(`POST /v1/segments answered ${response.status}`);
  return name;
}

/** A fresh daily report schedule of the tenant (an html email nobody will receive: no channel is set up). */
async function createReportSchedule(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/v1/reports/schedules", {
    token: tenant.key,
    body: { name: "Fixture", report: "new-users", frequency: "daily", format: "html", recipients: ["ops@example.com"] },
  });
  if (response.status !== 201) throw new Error(`POST /v1/reports/schedules answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/** A run of a fresh schedule, made by the reports job at the schedule's next run time. */
async function createReportRun(tenant: TestTenant): Promise<string> {
  const id = await createReportSchedule(tenant);
  const schedule = await json<{ nextRunAt: string }>(
    await call("GET", `/v1/reports/schedules/${id}`, { token: tenant.key }),
  );
  await runScheduledReports(
    env,
    tenant.id,
    "enterprise",
    await tenantDatabase(tenant.id),
    Date.parse(schedule.nextRunAt),
  );
  const runs = await json<{ data: { id: string }[] }>(
    await call("GET", `/v1/reports/runs?scheduleId=${id}`, { token: tenant.key }),
  );
  const run = runs.data[0];
  if (!run) throw new Error("the reports job made no run");
  return run.id;
}

/** A churn model for the tenant (helpers/churn.ts), so the churn routes have something to answer here. */
async function giveChurnModel(tenant: TestTenant): Promise<void> {
  await storeChurnModel(await tenantDatabase(tenant.id));
}

/** A fresh user of the tenant with a churn score (the tenant has a model: createSecurityWorld). */
async function createScoredUser(tenant: TestTenant): Promise<string> {
  const { id } = await createUser(tenant);
  const db = await tenantDatabase(tenant.id);
  await db
    .prepare(
      "INSERT INTO churn_scores (user_id, score, band, factors, suggestion, scored_at) VALUES (?, 0.1, 'low', '[]', 'none', ?)",
    )
    .bind(id, new Date().toISOString())
    .run();
  return id;
}

let roleCounter = 0;

/** A fresh custom role of the tenant, held by nobody, to be read, changed or deleted by a check. */
async function createRole(tenant: TestTenant): Promise<string> {
  const name = `fixture-${++roleCounter}-${crypto.randomUUID().slice(0, 8)}`;
  const response = await call("POST", "/v1/roles", {
    token: tenant.key,
    body: { name, permissions: ["users:read"] },
  });
  if (response.status !== 201) throw new Error(`POST /v1/roles answered ${response.status}`);
  return name;
}

/** A fresh SCIM group (a role) of the tenant, with no members. */
async function createScimGroup(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/scim/v2/Groups", {
    token: tenant.key,
    body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: `Fixture ${crypto.randomUUID()}` },
  });
  if (response.status !== 201) throw new Error(`POST /scim/v2/Groups answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/** A fresh OAuth client of the tenant (role basic), to be deleted by a check. */
async function createOAuthClient(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/v1/oauth/clients", {
    token: tenant.key,
    body: { name: "Security fixture", grantTypes: ["client_credentials"], roles: ["basic"] },
  });
  if (response.status !== 201) throw new Error(`POST /v1/oauth/clients answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

/** A fresh key of the tenant (role basic), to be read, rotated or revoked by a check. */
async function createApiKey(tenant: TestTenant): Promise<string> {
  const response = await call("POST", "/v1/api-keys", {
    token: tenant.key,
    body: { name: "Security fixture", roles: ["basic"] },
  });
  if (response.status !== 201) throw new Error(`POST /v1/api-keys answered ${response.status}`);
  return (await json<{ id: string }>(response)).id;
}

export async function createSecurityWorld(): Promise<SecurityWorld> {
  const a = await createTenant({ name: "Security A" });
  const b = await createTenant({ name: "Security B" });
  // a plugin's routes answer only where it is enabled (403 PLUGIN_NOT_ENABLED elsewhere): a has the test plugin of
  // test/plugins/plugins.config.ts that only has a route
  const plugin = await call("PUT", "/v1/plugins/test-route", { token: a.key, body: { config: {} } });
  if (plugin.status !== 200) throw new Error(`PUT /v1/plugins/test-route answered ${plugin.status}`);
  const aChild = await createSubAccount(a, { name: "Security A child" });
  const aDept = await createSubAccount(a, { name: "Security A department" });
  await createSubAccount(aDept, { name: "Security A department team" });
  await giveChurnModel(a);
  return { a, b, aChild, aDept };
}

/** The route table, from GET /v1/openapi.json. */
export async function routeTable(): Promise<{ secured: SecuredRoute[]; open: PublicRoute[]; problems: string[] }> {
  const response = await call("GET", "/v1/openapi.json");
  if (response.status !== 200) {
    throw new Error(`GET /v1/openapi.json answered ${response.status} (test/http/openapi.test.ts shows why)`);
  }
  const doc = await json<Document>(response);
  const secured: SecuredRoute[] = [];
  const open: PublicRoute[] = [];
  const problems: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.security || op.security.length === 0) {
        open.push({
          method: method.toUpperCase(),
          path,
          ...(op["x-client-authentication"] ? { clientAuthentication: true } : {}),
          ...(op["x-token-authentication"] ? { tokenAuthentication: true } : {}),
        });
        continue;
      }
      const kinds = op["x-credential"];
      if (
        !Array.isArray(kinds) ||
        kinds.length === 0 ||
        !kinds.every((k): k is CredentialKind => k === "admin" || k === "tenant")
      ) {
        problems.push(`${where}: x-credential must list "admin" and/or "tenant", got ${JSON.stringify(kinds)}`);
        continue;
      }
      secured.push({
        method: method.toUpperCase(),
        path,
        credentials: kinds,
        operationId: op.operationId ?? where,
        ...(op["x-permission"] ? { permission: op["x-permission"] } : {}),
        ...(op["x-plan-feature"] ? { feature: op["x-plan-feature"] } : {}),
        ...(op["x-error-format"] === "scim" ? { scimErrors: true } : {}),
        ...(op["x-shared-resource"] ? { sharedResource: true } : {}),
        body: op.requestBody ? (WALK_BODIES[`${method.toUpperCase()} ${path}`] ?? exampleBody(doc, op)) : undefined,
      });
    }
  }
  return { secured, open, problems };
}

/**
 * Bodies sent instead of a route's example. The webhook examples subscribe to `user.*`: the endpoint a walk creates
 * with them would get every later event of the walk, fail to deliver it (its receiver does not exist) and be disabled
 * after WEBHOOK_DISABLE_AFTER_FAILURES failures, in the background, while another route's request is being checked.
 */
const WALK_BODIES: Record<string, unknown> = {
  "POST /v1/webhooks": { url: "https://receiver.example/uom-webhooks", events: ["webhook.test"] },
  "PATCH /v1/webhooks/{id}": { events: ["webhook.test"], status: "enabled" },
};

function exampleBody(doc: Document, op: Operation): unknown {
  const media = op.requestBody?.content["application/json"] ?? Object.values(op.requestBody?.content ?? {})[0];
  if (media?.example !== undefined) return media.example;
  if (media?.schema?.example !== undefined) return media.schema.example;
  const ref = media?.schema?.$ref?.split("/").at(-1);
  const component = ref ? doc.components?.schemas?.[ref] : undefined;
  return component?.example ?? {};
}

/** The path with its parameters filled by the first matching fixture; throws when none can. */
export async function concretePath(route: { method: string; path: string }, world: SecurityWorld): Promise<string> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  if (names.length === 0) return route.path;
  const fixture = PATH_FIXTURES.find((f) => f.pattern.test(route.path));
  if (!fixture) {
    throw new Error(
      `no path fixture for ${route.method} ${route.path}: add one to PATH_FIXTURES in test/helpers/security.ts`,
    );
  }
  const values = await fixture.fill(world);
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the fixture for ${route.path} does not fill {${name}}`);
    return encodeURIComponent(value);
  });
}

export function send(
  route: SecuredRoute,
  path: string,
  authorization: string | null,
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...extraHeaders, ...(authorization ? { authorization } : {}) };
  return call(route.method, path, { headers, ...(route.body !== undefined ? { body: route.body } : {}) });
}

/** Credentials that must all be refused with 401, whatever the route. */
export function badCredentials(world: SecurityWorld): { what: string; authorization: string | null }[] {
  const real = world.a.key;
  const flipped = real.slice(0, 12) + (real[12] === "A" ? "B" : "A") + real.slice(13);
  return [
    { what: "no Authorization", authorization: null },
    { what: "an empty Authorization", authorization: "" },
    { what: "Bearer x", authorization: "Bearer x" },
    { what: "Basic abc", authorization: "Basic abc" },
    { what: "a Bearer without a token", authorization: "Bearer " },
    { what: "a key with a bad checksum", authorization: `Bearer ${flipped}` },
    { what: "an unknown well-formed key", authorization: `Bearer ${generateApiKeySecret()}` },
    { what: "the key without its scheme", authorization: real },
    { what: "a near-miss admin token", authorization: `Bearer ${ADMIN_TOKEN}x` },
  ];
}

export function tokenFor(kind: CredentialKind, world: SecurityWorld): string {
  return kind === "admin" ? ADMIN_TOKEN : world.a.key;
}

/** Reads an RFC 7644 §3.12 SCIM error; returns what is wrong with it (SCIM errors carry no code to compare). */
async function scimErrorMismatch(response: Response, status: number): Promise<string[]> {
  const issues: string[] = [];
  if (response.status !== status) issues.push(`status ${response.status}, expected ${status}`);
  if (!response.headers.get("content-type")?.startsWith("application/scim+json")) {
    issues.push(`content-type ${response.headers.get("content-type")}`);
  }
  if (!response.headers.get("x-request-id")) issues.push("no X-Request-Id");
  const text = await response.text();
  try {
    const error = JSON.parse(text) as { schemas?: string[]; status?: string };
    if (error.schemas?.[0] !== "urn:ietf:params:scim:api:messages:2.0:Error") issues.push("not a SCIM error body");
    if (error.status !== String(status)) issues.push(`error.status ${error.status}`);
  } catch {
    issues.push(`body is not JSON: ${text.slice(0, 80)}`);
  }
  return issues;
}

/**
 * Reads a problem response (or, on a SCIM route, a SCIM error); returns what is wrong with it (empty when it
 * is the expected one).
 */
export async function problemMismatch(
  response: Response,
  status: number,
  codes?: readonly string[],
  route?: { scimErrors?: boolean },
): Promise<string[]> {
  if (route?.scimErrors) return scimErrorMismatch(response, status);
  const issues: string[] = [];
  if (response.status !== status) issues.push(`status ${response.status}, expected ${status}`);
  if (!response.headers.get("content-type")?.startsWith("application/problem+json")) {
    issues.push(`content-type ${response.headers.get("content-type")}`);
  }
  const requestId = response.headers.get("x-request-id");
  if (!requestId) issues.push("no X-Request-Id");
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as { status?: number; code?: string; requestId?: string };
    if (problem.status !== status) issues.push(`problem.status ${problem.status}`);
    if (problem.requestId !== requestId) issues.push("problem.requestId differs from X-Request-Id");
    if (codes && !codes.includes(problem.code ?? "")) issues.push(`code ${problem.code}, expected ${codes.join("|")}`);
  } catch {
    issues.push(`body is not JSON: ${text.slice(0, 80)}`);
  }
  return issues;
}

/** `GET /v1/users/{id}`: how the walks name a route in their failure lists. */
export const routeLabel = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

/** A walk sends several requests to every route, each authenticated for real: about half a minute on CI. */
export const WALK_TIMEOUT = 120_000;
