/**
 * Every dated API version and every deprecation, in one place (docs/versioning.md). The major version is in the path
 * (`/v1`); within it, a dated version (`Uom-Version: 2026-11-01`) names the shape of the responses, as Stripe and
 * Clerk do. The code always builds the latest shape; a request resolved to an older version gets it turned back by
 * the `downgrade` of every change released after that version, newest first (versions.middleware.ts). Versions
 * are never removed: API keys are pinned to them (`api_keys.api_version`).
 */

/** A route as the usage analytics and OpenAPI name it: `GET /v1/users/{id}`. */
export type RouteKey = `${"GET" | "POST" | "PUT" | "PATCH" | "DELETE"} /${string}`;

type JsonObject = Record<string, unknown>;

interface VersionChange {
  description: string;
  /** The routes whose success bodies it changed. */
  routes: readonly RouteKey[];
  /** Turns a success body of `route` from the shape after this change into the shape before it. */
  downgrade(body: unknown, route: RouteKey): unknown;
}

interface ApiVersion {
  /** The release date, which is the version's name (a date between two releases is no version). */
  version: string;
  changes: readonly VersionChange[];
}

export interface Deprecation {
  route: RouteKey;
  /** RFC 3339; sent as the RFC 9745 `Deprecation` date. */
  deprecatedAt: string;
  /** RFC 3339; sent as the RFC 8594 `Sunset` date. */
  sunset: string;
  /** The route to use instead; its path takes the same parameters. */
  successor: RouteKey;
  /** Human-readable documentation, relative to the service's origin (`rel="deprecation"`). */
  docs: string;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Where each route's success body holds user objects, and how to rewrite each of them. */
const USER_BODIES: Partial<Record<RouteKey, (body: JsonObject, each: (user: JsonObject) => JsonObject) => unknown>> = {
  "POST /v1/users": (user, each) => each(user),
  "GET /v1/users": (page, each) => ({
    ...page,
    data: Array.isArray(page.data) ? page.data.map((user) => (isObject(user) ? each(user) : user)) : page.data,
  }),
  "GET /v1/users/{id}": (user, each) => each(user),
  "PATCH /v1/users/{id}": (user, each) => each(user),
  "DELETE /v1/users/{id}": (user, each) => each(user),
  "POST /v1/users/{id}/restore": (user, each) => each(user),
  "POST /v1/users/{id}/undelete": (user, each) => each(user),
  "PUT /v1/users/{id}/roles": (user, each) => each(user),
  // `user` only for an end user's own token
  "GET /v1/me": (me, each) => (isObject(me.user) ? { ...me, user: each(me.user) } : me),
};

/** Applies `each` to every user object of a route's success body (bulk results carry ids, not users). */
function everyUser(each: (user: JsonObject) => JsonObject) {
  return (body: unknown, route: RouteKey): unknown => {
    const at = USER_BODIES[route];
    return at && isObject(body) ? at(body, each) : body;
  };
}

/** `mfa: {totp}` back to `mfaEnabled`, in the same place among the user's members. */
function mfaAsFlag(user: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(user).map(([name, value]) =>
      name === "mfa" ? ["mfaEnabled", isObject(value) && value.totp === true] : [name, value],
    ),
  );
}

/** Oldest first. */
export const VERSIONS: readonly ApiVersion[] = [
  // the API as first released
  { version: "2026-04-01", changes: [] },
  {
    version: "2026-11-01",
    changes: [
      {
        description:
          "A user's second factors are an object, `mfa: {totp: boolean}`, in place of `mfaEnabled: boolean`, so " +
          "that further factors can be added beside TOTP.",
        routes: Object.keys(USER_BODIES) as RouteKey[],
        downgrade: everyUser(mfaAsFlag),
      },
    ],
  },
];

export const VERSION_NAMES = VERSIONS.map((v) => v.version) as [string, ...string[]];
export const LATEST_VERSION = VERSION_NAMES[VERSION_NAMES.length - 1] as string;

export const DEPRECATIONS: readonly Deprecation[] = [
  {
    // the path restore had before it took the name the rest of the API uses; same handler and permission
    route: "POST /v1/users/{id}/undelete",
    deprecatedAt: "2026-11-01T00:00:00Z",
    sunset: "2027-06-30T00:00:00Z",
    successor: "POST /v1/users/{id}/restore",
    docs: "/docs",
  },
];

export function isKnownVersion(version: string): boolean {
  return VERSION_NAMES.includes(version);
}

/** Whether some change after the first version touches the route: its representation differs by version. */
export function isVersionedRoute(route: RouteKey): boolean {
  return VERSIONS.some((v) => v.changes.some((change) => change.routes.includes(route)));
}

/** The changes to undo for a request to `route` answered in `version`, newest first. */
export function downgradesFor(version: string, route: RouteKey): VersionChange[] {
  return VERSIONS.filter((v) => v.version > version)
    .reverse()
    .flatMap((v) => v.changes.filter((change) => change.routes.includes(route)));
}

export function deprecationOf(route: RouteKey): Deprecation | undefined {
  return DEPRECATIONS.find((d) => d.route === route);
}

export function routeKeyOf(method: string, path: string): RouteKey {
  return `${method.toUpperCase()} ${path}` as RouteKey;
}
