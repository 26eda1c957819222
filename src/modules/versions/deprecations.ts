import type { RouteConfig } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { waitUntilOf } from "../../core/context";
import { tenantDatabases } from "../../core/db/databases";
import { sendAfterCommit } from "../../core/events/dispatch";
import { eventStatement } from "../../core/events/outbox";
import { loggableError } from "../../core/http/error-handler";
import { credentialOf } from "../../core/usage/analytics";
import type { AppEnv, Auth } from "../../env";
import type { Deprecation } from "./versions.registry";

/**
 * A deprecated route (versions.registry.ts) still works, and says so on every response, errors included:
 * `Deprecation` (RFC 9745: a structured-field Date, `@<epoch seconds>`), `Sunset` (RFC 8594: an HTTP-date) and
 * `Link` to its successor (`rel="successor-version"`, RFC 5829) and to its documentation (`rel="deprecation"`,
 * RFC 9745 §3), both relative to the request's URL (RFC 8288 §3.1). Calls are counted per credential by the usage
 * analytics (GET /v1/usage/deprecations); a credential's first call of the day (UTC) that passes the credential
 * check emits `api.deprecated_endpoint_called` to the tenant's event log and webhooks.
 */

const DEPRECATED_CALL_EVENT = "api.deprecated_endpoint_called";

/** The successor's path with this request's path parameters (the two routes take the same ones). */
function successorPath(c: Context<AppEnv>, deprecation: Deprecation): string {
  const path = deprecation.successor.slice(deprecation.successor.indexOf(" ") + 1);
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(c.req.param(name) ?? ""));
}

function deprecationHeaders(deprecation: Deprecation, c: Context<AppEnv>): Record<string, string> {
  return {
    Deprecation: `@${Math.floor(Date.parse(deprecation.deprecatedAt) / 1000)}`,
    // Date#toUTCString is the IMF-fixdate of RFC 9110 §5.6.7
    Sunset: new Date(deprecation.sunset).toUTCString(),
    Link:
      `<${successorPath(c, deprecation)}>; rel="successor-version", ` +
      `<${deprecation.docs}>; rel="deprecation"; type="text/html"`,
  };
}

const HEADERS_DOCUMENTED = {
  Deprecation: { schema: { type: "string" as const }, description: "RFC 9745: deprecated since, `@<epoch seconds>`" },
  Sunset: { schema: { type: "string" as const }, description: "RFC 8594: it may stop working after this HTTP-date" },
  Link: {
    schema: { type: "string" as const },
    description: 'Its successor (`rel="successor-version"`) and documentation (`rel="deprecation"`)',
  },
};

/** The OpenAPI description and success responses of a deprecated route: its successor, sunset and headers. */
export function documentDeprecation(
  deprecation: Deprecation,
  route: Pick<RouteConfig, "description" | "responses">,
): Pick<RouteConfig, "description" | "responses"> {
  const note =
    `Deprecated since ${deprecation.deprecatedAt.slice(0, 10)}: use \`${deprecation.successor}\`. It may stop ` +
    `working after ${deprecation.sunset.slice(0, 10)} (Sunset). Calls are counted per credential ` +
    "(GET /v1/usage/deprecations).";
  const responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, response]) =>
      Number(status) < 400 && !("$ref" in response)
        ? [status, { ...response, headers: { ...response.headers, ...HEADERS_DOCUMENTED } }]
        : [status, response],
    ),
  );
  return { description: [route.description, note].filter(Boolean).join("\n\n"), responses };
}

/** The headers, on every answer of the route: it runs outside the credential check, so refusals carry them too. */
export function deprecated(deprecation: Deprecation): MiddlewareHandler<AppEnv> {
  return async function deprecatedMiddleware(c, next) {
    await next();
    for (const [name, value] of Object.entries(deprecationHeaders(deprecation, c))) c.res.headers.set(name, value);
  };
}

/**
 * Notes the call for the event, after the credential check: a credential refused the route (401, 403, 429) does not
 * use it, and a refused request changes nothing. (The usage analytics count every call, refusals included.)
 */
export function deprecatedCallNotice(deprecation: Deprecation): MiddlewareHandler<AppEnv> {
  return async function deprecatedCallNoticeMiddleware(c, next) {
    await next();
    const auth = c.get("auth");
    if (auth.kind === "tenant") noteDeprecatedCall(c, auth, deprecation);
  };
}

/** Tenant, credential and route of today's notices this isolate knows were written (or are being written). */
const noticed = new Set<string>();
let noticedDay = "";
const MAX_NOTICED = 10_000;

/**
 * One event per credential, route and day: this isolate remembers the notices it wrote, so later calls cost
 * nothing; the first one in an isolate writes, after the response, a `deprecation_notices` row (INSERT OR IGNORE,
 * keyed by day, credential and route) and, only if that row is new, the event — in one batch, so isolates that
 * race write one event between them.
 */
function noteDeprecatedCall(c: Context<AppEnv>, auth: Extract<Auth, { kind: "tenant" }>, deprecation: Deprecation) {
  const day = new Date().toISOString().slice(0, 10);
  const credential = credentialOf(auth);
  const key = `${auth.tenant.id}|${credential}|${deprecation.route}`;
  // a new day, or too many to keep: forgetting costs one INSERT OR IGNORE per entry, never a second event
  if (day !== noticedDay || noticed.size >= MAX_NOTICED) {
    noticed.clear();
    noticedDay = day;
  }
  if (noticed.has(key)) return;
  noticed.add(key);
  const subjectId = auth.actor.type === "user" ? null : auth.actor.id;
  waitUntilOf(c)(
    writeNotice(c.env, auth.tenant, { day, credential, subjectId, deprecation }).catch((error) => {
      noticed.delete(key);
      if (c.env.LOG_LEVEL !== "silent") {
        console.error(
          JSON.stringify({ level: "error", msg: "deprecation notice failed", error: loggableError(error) }),
        );
      }
    }),
  );
}

async function writeNotice(
  env: Env,
  tenant: { id: string; databaseBinding: string },
  notice: { day: string; credential: string; subjectId: string | null; deprecation: Deprecation },
): Promise<void> {
  const { day, credential, deprecation } = notice;
  const db = await tenantDatabases.forTenant(env, tenant);
  const at = new Date().toISOString();
  const [method, path] = deprecation.route.split(" ") as [string, string];
  const yesterday = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  const [inserted] = await db.batch([
    db
      .prepare("INSERT OR IGNORE INTO deprecation_notices (day, credential, route, created_at) VALUES (?, ?, ?, ?)")
      .bind(day, credential, deprecation.route, at),
    await eventStatement(
      { env, db },
      {
        type: DEPRECATED_CALL_EVENT,
        subjectId: notice.subjectId,
        data: {
          credential,
          method,
          path,
          successor: deprecation.successor,
          deprecatedAt: deprecation.deprecatedAt,
          sunset: deprecation.sunset,
          day,
        },
      },
      at,
      { onlyIfPreviousChanged: true },
    ),
    // the rows only dedupe today's (and, around midnight, yesterday's) calls
    db.prepare("DELETE FROM deprecation_notices WHERE day < ?").bind(yesterday),
  ]);
  if (inserted?.meta.changes) await sendAfterCommit(env, tenant);
}
