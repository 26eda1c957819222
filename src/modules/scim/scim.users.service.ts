import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch } from "../../core/http/etag";
import type { Json } from "../../core/http/merge-patch";
import { fieldErrors, validationError } from "../../core/http/validation";
import { D1_MAX_PARAMS } from "../search/filter.compiler";
import {
  assertFilterReadable,
  assertUpdateWritable,
  type FieldAccess,
  fieldAccess,
} from "../users/users.fields-access";
import { compileUserFilter, parseUserFilter } from "../users/users.filter";
import { toUser } from "../users/users.mapping";
import { CreateUserSchema, type User } from "../users/users.schema";
import * as users from "../users/users.service";
import { extensionFilterCatalogue } from "./scim.extension";
import { sortColumn, translateUserFilter } from "./scim.filter";
import type { ScimContext } from "./scim.http";
import { requirePermission } from "./scim.http";
import { applyPatch, type ResourceShape, readPatchRequest } from "./scim.patch";
import { type Projection, project } from "./scim.projection";
import { scimTenantSchema } from "./scim.tenant-schema";
import { splitUrn, URN } from "./scim.urns";
import { fromScimUser, type HiddenFields, type ScimDoc, type ScimView, toScimUser } from "./scim.users.mapping";
import { listUsersByOffset } from "./scim.users.repo";

/** Advertised as `filter.maxResults` (ServiceProviderConfig): the most resources one list response holds. */
export const SCIM_MAX_RESULTS = 200;
export const SCIM_DEFAULT_COUNT = 100;

export const USER_SHAPE: ResourceShape = {
  core: URN.user,
  extensions: [URN.extension],
  attributes: [
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
  ],
  multiValued: new Set([
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
  ]),
  readOnly: new Set(["id", "meta", "groups", "schemas"]),
};

export interface ScimUser {
  doc: ScimDoc;
  etag: string;
}

async function view(ctx: ScimContext): Promise<ScimView> {
  return { base: ctx.base, schema: await scimTenantSchema(ctx) };
}

export function shown(user: ScimUser, projection: Projection): ScimDoc {
  return project(user.doc, projection, [URN.extension]);
}

/** A user's SCIM document as this caller may see it (users.fields-access.ts). */
function visible(access: FieldAccess, user: User, etag: string, scimView: ScimView): ScimDoc {
  return toScimUser(access.present(user), etag, scimView);
}

export async function getScimUser(ctx: ScimContext, id: string): Promise<ScimUser> {
  requirePermission(ctx, "users:read");
  const { user, etag } = await users.getUser(ctx, id, false);
  return { doc: visible(await fieldAccess(ctx), user, etag, await view(ctx)), etag };
}

export interface ListQuery extends Projection {
  filter?: string | undefined;
  startIndex: number;
  count: number;
  sortBy?: string | undefined;
  sortOrder?: "ascending" | "descending" | undefined;
}

/** RFC 7644 §3.4.2: a ListResponse; startIndex below 1 counts as 1, count is capped at maxResults. */
export async function listScimUsers(ctx: ScimContext, query: ListQuery): Promise<ScimDoc> {
  requirePermission(ctx, "users:read");
  const scimView = await view(ctx);
  const tree = query.filter === undefined ? undefined : translateUserFilter(parseUserFilter(query.filter), ctx);
  // as on /v1/users: no filtering on a field the caller may not read (emails, phoneNumbers, an email userName)
  if (tree) await assertFilterReadable(ctx, tree);
  const filter =
    tree &&
    (await compileUserFilter(ctx, tree, {
      attributes: extensionFilterCatalogue(scimView.schema),
      now: Date.now(),
      maxParams: D1_MAX_PARAMS - 2,
    }));
  const startIndex = Math.max(1, query.startIndex);
  const count = Math.min(Math.max(0, query.count), SCIM_MAX_RESULTS);
  const { rows, total } = await listUsersByOffset(ctx, {
    filter,
    orderBy: sortColumn(query.sortBy) ?? "users.created_at",
    descending: query.sortOrder === "descending",
    offset: startIndex - 1,
    limit: count,
  });
  const access = await fieldAccess(ctx);
  const resources = await Promise.all(
    rows.map(async (row) =>
      shown({ doc: visible(access, toUser(row), await users.userEtag(ctx, row.version), scimView), etag: "" }, query),
    ),
  );
  return {
    schemas: [URN.listResponse],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

export async function createScimUser(ctx: ScimContext, body: ScimDoc): Promise<ScimUser> {
  requirePermission(ctx, "users:write");
  const scimView = await view(ctx);
  const fields = fromScimUser(body, { lenient: ctx.lenient, schema: scimView.schema });
  const attributes = Object.fromEntries(
    Object.entries(fields.attributes as Record<string, Json>).filter(([, v]) => v !== null),
  );
  const parsed = CreateUserSchema.safeParse({ ...fields, attributes, roles: [] });
  if (!parsed.success) throw validationError(fieldErrors(parsed.error.issues), "user");
  const { user, etag } = await users.createUser(ctx, parsed.data);
  return { doc: visible(await fieldAccess(ctx), user, etag, scimView), etag };
}

/**
 * The restricted user fields a SCIM request names (users.fields-access.ts): `emails` the email, `phoneNumbers` the
 * phone, an email-shaped `userName` the email. `attribute` is a key of a document or a PATCH path.
 */
function namedBy(attribute: string, value: unknown, named: Set<string>): void {
  const name = (splitUrn(attribute.split("[")[0] ?? "").attribute.split(".")[0] ?? "").toLowerCase();
  if (name === "emails") named.add("email");
  else if (name === "phonenumbers") named.add("phone");
  else if (name === "username" && typeof value === "string" && value.includes("@")) named.add("email");
}

function namedInDoc(doc: ScimDoc, named = new Set<string>()): Set<string> {
  for (const [key, value] of Object.entries(doc)) namedBy(key, value, named);
  return named;
}

/** What a caller who may not read some of the user's fields cannot be expected to send back (HiddenFields). */
function hiddenFrom(access: FieldAccess, user: User): HiddenFields {
  const email = !access.canRead("email", user.id);
  return {
    email,
    phone: !access.canRead("phone", user.id),
    ...(email && user.username === null ? { userNamePlaceholder: user.id } : {}),
  };
}

const WRITE_ATTEMPTS = 4;

/**
 * Writes the SCIM document `next(current)` computes from the current one, as a merge patch through the users
 * service. The write is pinned to the version it was computed from, so a concurrent change is never
 * overwritten: with the client's If-Match that is its 412; without, the document is computed again.
 * `named`: the restricted fields the request names; `replacing`: the body stands for the whole user (PUT), so
 * what the caller may not read and left out is kept rather than unassigned.
 */
async function rewrite(
  ctx: ScimContext,
  id: string,
  ifMatch: string | undefined,
  change: { named: ReadonlySet<string>; replacing: boolean },
  next: (current: ScimDoc) => { doc: ScimDoc; before?: ScimDoc },
): Promise<ScimUser> {
  requirePermission(ctx, "users:write");
  const [scimView, access] = await Promise.all([view(ctx), fieldAccess(ctx)]);
  // refused by name before the document is even computed (users.fields-access.ts)
  assertUpdateWritable(access, id, { named: [...change.named], changed: [] });
  for (let attempt = 1; ; attempt++) {
    const current = await users.getUser(ctx, id, false);
    assertIfMatch(ifMatch, current.etag);
    const doc = toScimUser(current.user, current.etag, scimView);
    const { doc: wanted, before } = next(doc);
    const patch = fromScimUser(wanted, {
      lenient: ctx.lenient,
      schema: scimView.schema,
      ...(before ? { before } : {}),
      ...(change.replacing ? { hidden: hiddenFrom(access, current.user) } : {}),
    });
    try {
      const { user, etag } = await users.updateUser(ctx, id, patch, current.etag, [...change.named]);
      return { doc: visible(access, user, etag, scimView), etag };
    } catch (error) {
      const raced = error instanceof ApiError && error.code === CoreErrors.PRECONDITION_FAILED;
      if (!raced || ifMatch || attempt >= WRITE_ATTEMPTS) throw error;
    }
  }
}

/** PUT (RFC 7644 §3.5.1): the body replaces the user; read-only attributes in it are ignored. */
export function replaceScimUser(ctx: ScimContext, id: string, body: ScimDoc, ifMatch?: string): Promise<ScimUser> {
  return rewrite(ctx, id, ifMatch, { named: namedInDoc(body), replacing: true }, () => ({ doc: body }));
}

/** PATCH (RFC 7644 §3.5.2): the operations apply to the user's SCIM representation, then it is written. */
export function patchScimUser(ctx: ScimContext, id: string, body: ScimDoc, ifMatch?: string): Promise<ScimUser> {
  const operations = readPatchRequest(body);
  const named = new Set<string>();
  for (const { path, value } of operations) {
    if (path !== undefined) namedBy(path, value, named);
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) namedInDoc(value as ScimDoc, named);
  }
  return rewrite(ctx, id, ifMatch, { named, replacing: false }, (current) => ({
    doc: applyPatch(current, operations, USER_SHAPE, ctx),
    before: current,
  }));
}

/** DELETE is our soft delete (restorable through /v1/users/{id}/restore); SCIM sees the user as gone. */
export async function deleteScimUser(ctx: ScimContext, id: string, ifMatch?: string): Promise<void> {
  requirePermission(ctx, "users:delete");
  await users.softDeleteUser(ctx, id, ifMatch);
}
