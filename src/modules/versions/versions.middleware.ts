import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../../core/errors";
import type { AppEnv } from "../../env";
import { VersionErrors } from "./versions.errors";
import { downgradesFor, isKnownVersion, LATEST_VERSION, type RouteKey, VERSION_NAMES } from "./versions.registry";

/**
 * Dated API versions on the wire (docs/versioning.md). `apiVersion` checks the `Uom-Version` header before anything
 * else and names the resolved version on every response to an authenticated request; `versionedRepresentation`,
 * on the routes a change touched, turns the latest shape back into the resolved version's.
 */

const VERSION_HEADER = "Uom-Version";

/** The request's `Uom-Version`, else its API key's pinned version, else the latest. */
function resolvedVersion(c: Context<AppEnv>): string {
  const asked = c.req.header(VERSION_HEADER)?.trim();
  if (asked) return asked;
  const auth = c.get("auth");
  return (auth?.kind === "tenant" ? auth.apiVersion : undefined) ?? LATEST_VERSION;
}

function unsupported(asked: string): ApiError {
  return new ApiError(VersionErrors.UNSUPPORTED_VERSION, {
    detail:
      `Uom-Version ${JSON.stringify(asked)} is not a released version: use one of ${VERSION_NAMES.join(", ")} ` +
      "(GET /v1/versions lists them).",
    extensions: { versions: [...VERSION_NAMES], latest: LATEST_VERSION },
  });
}

/**
 * Refuses an unknown `Uom-Version` (400 UNSUPPORTED_VERSION, before the credential is even read: nothing runs), and
 * stamps the resolved version on the response once the credential is known — refusals (403, 429) included.
 */
export function apiVersion(): MiddlewareHandler<AppEnv> {
  return async function apiVersionMiddleware(c, next) {
    const asked = c.req.header(VERSION_HEADER);
    // Stripe's rule: only release dates are versions; a date between two of them is refused, not rounded
    if (asked !== undefined && !isKnownVersion(asked.trim())) throw unsupported(asked);
    await next();
    if (c.get("auth")) c.res.headers.set(VERSION_HEADER, resolvedVersion(c));
  };
}

const ENTITY_TAG = /^(W\/)?"([^"]*)"$/;

/** The ETag of the version's representation: the resource's own tag, qualified by the version. */
function qualified(etag: string, version: string): string {
  const tag = ENTITY_TAG.exec(etag.trim());
  return tag ? `${tag[1] ?? ""}"${tag[2]}@${version}"` : etag;
}

/**
 * A client's entity tag as the handler compares it: one qualified by this request's version names the resource's
 * own tag; an unqualified one names the latest representation, which is not the one answered here, so it is made
 * one that matches nothing (If-None-Match: no 304; If-Match: 412). Tags of other versions match nothing as they are.
 */
function asHandlerTag(tag: string, version: string): string {
  const parsed = ENTITY_TAG.exec(tag);
  if (!parsed) return tag;
  const [, weak = "", opaque = ""] = parsed;
  const suffix = `@${version}`;
  if (opaque.endsWith(suffix)) return `${weak}"${opaque.slice(0, -suffix.length)}"`;
  return opaque.includes("@") ? tag : `${weak}"${opaque}@${LATEST_VERSION}"`;
}

/** Rewrites If-Match / If-None-Match for the handler (the incoming request's headers are immutable). */
function translateConditionals(c: Context<AppEnv>, version: string): void {
  let headers: Headers | undefined;
  for (const name of ["if-match", "if-none-match"]) {
    const value = c.req.header(name);
    if (value === undefined || value.trim() === "*") continue;
    headers ??= new Headers(c.req.raw.headers);
    headers.set(
      name,
      value
        .split(",")
        .map((tag) => asHandlerTag(tag.trim(), version))
        .join(", "),
    );
  }
  if (headers) c.req.raw = new Request(c.req.raw, { headers });
}

function isJsonSuccess(response: Response): boolean {
  return (
    response.status >= 200 &&
    response.status < 300 &&
    (response.headers.get("content-type") ?? "").startsWith("application/json")
  );
}

/**
 * On a route some change touched: answers in the resolved version's shape. Runs after the credential check (a key's
 * pinned version is known) and outside idempotency, so a replay is shaped for the version of the request it answers.
 * The body is parsed, downgraded and serialized again, status and headers kept; its ETag is qualified by the
 * version, so two versions' representations never share a validator (RFC 9110 §8.8.3).
 */
export function versionedRepresentation(route: RouteKey): MiddlewareHandler<AppEnv> {
  return async function versionedRepresentationMiddleware(c, next) {
    const version = resolvedVersion(c);
    const changes = downgradesFor(version, route);
    if (changes.length > 0) translateConditionals(c, version);
    await next();
    c.res.headers.append("Vary", VERSION_HEADER);
    if (changes.length === 0) return;
    const etag = c.res.headers.get("etag");
    if (etag) c.res.headers.set("ETag", qualified(etag, version));
    if (!isJsonSuccess(c.res)) return;
    const body = changes.reduce<unknown>((shape, change) => change.downgrade(shape, route), await c.res.json());
    c.res = new Response(JSON.stringify(body), c.res);
    // the length of the latest shape, if one was set, is not this body's
    c.res.headers.delete("content-length");
  };
}
