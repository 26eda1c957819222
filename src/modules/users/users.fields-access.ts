import type { Grants } from "../../core/auth/grants";
import { fieldGrant, RESTRICTED_CORE_FIELDS } from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { ApiError, type FieldError } from "../../core/errors";
import type { Json } from "../../core/http/merge-patch";
import { acceptedPreviousName } from "../schema/attributes";
import type { LoadedSchema } from "../schema/schema.repo";
import { tenantSchema } from "../schema/schema.service";
import { type FilterNode, walkFilter } from "../search/filter.parser";
import { UserErrors } from "./users.errors";
import type { User } from "./users.schema";

/**
 * Field-level permissions (docs/field-permissions.md): the one place that decides which of a user's fields a
 * caller may read and write. A field is `email`, `phone` or `attributes.<name>`; every other field (name,
 * username, status, roles, …) and every custom field that is not `restricted` follows the route's
 * `users:read` / `users:write`, so it is always allowed here.
 * - `email`, `phone`: their field grant (`users.email:read`), except for an end user on their own account.
 * - a `restricted` custom field: `users.attributes.<name>:read|write`, with no exception for oneself (a user
 *   must not raise their own restricted salary).
 * - no permissions at all (the admin token, system work): everything.
 * Built once per request from the credential's grants and the schema the request has loaded anyway.
 */

export type FieldAction = "read" | "write";

interface Allowed {
  read: boolean;
  write: boolean;
}

export interface FieldAccess {
  /** Every field readable and writable: the admin token, system work, or a credential holding every field grant. */
  readonly all: boolean;
  /** Whether the caller may read `field` (of the user `userId`, for the end user's own-account exception). */
  canRead(field: string, userId?: string | null): boolean;
  canWrite(field: string, userId?: string | null): boolean;
  /** The current name of a restricted custom field, by its name or accepted previous name in any case; else null. */
  restrictedField(name: string): string | null;
  /** The names of the live restricted custom fields. */
  readonly restrictedNames: readonly string[];
  /** The user as this caller may see it: what it may not read is left out (the key is absent, not null). */
  present<T extends UserShape>(user: T): T;
  /**
   * Whether an audit `changes` entry of the user `userId` may be shown: `path` as recorded (`email`,
   * `attributes.salary`), `marked` when the entry was recorded as a restricted field's. A field the schema still
   * knows (under its name or previous name, deleted ones being purged too) is judged as it is now; a marked entry
   * of a field it no longer knows needs the grant under its recorded name (in practice `users.attributes.*:read`).
   */
  canReadChange(path: string, marked: boolean, userId: string | null): boolean;
}

type UserShape = Partial<Pick<User, "id" | "email" | "phone" | "attributes">>;

const EVERYTHING: FieldAccess = {
  all: true,
  canRead: () => true,
  canWrite: () => true,
  restrictedField: () => null,
  restrictedNames: [],
  present: (user) => user,
  canReadChange: () => true,
};

const ATTRIBUTES = "attributes.";

function accessOf(ctx: Pick<ServiceContext, "actor" | "permissions">, fields: LoadedSchema["fields"]): FieldAccess {
  const grants = ctx.permissions;
  if (!grants) return EVERYTHING;
  const allowedBy = (path: string): Allowed => ({
    read: grants.has(fieldGrant(path, "read")),
    write: grants.has(fieldGrant(path, "write")),
  });
  const core = new Map<string, Allowed>(RESTRICTED_CORE_FIELDS.map((field) => [field, allowedBy(field)]));
  // live restricted custom fields by lower-cased name and accepted previous name (names are unique in any case)
  const restricted = new Map<string, { name: string } & Allowed>();
  // every field the schema knows (deleted ones still being purged too) by any name it had: for the audit trail
  const recorded = new Map<string, { restricted: boolean } & Allowed>();
  const live = fields.filter((field) => field.restricted && field.deletedAt === null);
  for (const field of fields) {
    const entry = { name: field.name, restricted: field.restricted, ...allowedBy(`${ATTRIBUTES}${field.name}`) };
    for (const name of [field.previousName, field.name]) if (name !== null) recorded.set(name.toLowerCase(), entry);
    if (!field.restricted || field.deletedAt !== null) continue;
    restricted.set(field.name.toLowerCase(), entry);
    const previous = acceptedPreviousName(field);
    if (previous !== null) restricted.set(previous.toLowerCase(), entry);
  }
  const selfId = ctx.actor.type === "user" ? ctx.actor.id : null;
  const allowed = (field: string, action: FieldAction, userId: string | null | undefined): boolean => {
    const coreField = core.get(field);
    if (coreField) return coreField[action] || (selfId !== null && userId === selfId);
    if (!field.startsWith(ATTRIBUTES)) return true;
    const entry = restricted.get(field.slice(ATTRIBUTES.length).toLowerCase());
    return entry ? entry[action] : true;
  };
  const restrictedField = (name: string) => restricted.get(name.toLowerCase())?.name ?? null;
  const hiddenAttributes = live
    .map((field) => field.name)
    .filter((name) => !allowed(`${ATTRIBUTES}${name}`, "read", null));
  const all = [...core.values(), ...restricted.values()].every((entry) => entry.read && entry.write);
  if (all && grants.covers(`users.attributes.*:read`)) return EVERYTHING;
  return {
    all: false,
    canRead: (field, userId) => allowed(field, "read", userId),
    canWrite: (field, userId) => allowed(field, "write", userId),
    restrictedField,
    restrictedNames: live.map((field) => field.name),
    present(user) {
      const shown = { ...user };
      for (const field of RESTRICTED_CORE_FIELDS) {
        if (field in shown && !allowed(field, "read", user.id)) delete shown[field];
      }
      const attributes = user.attributes;
      if (attributes && hiddenAttributes.some((name) => name in attributes)) {
        const kept = { ...attributes };
        for (const name of hiddenAttributes) delete kept[name];
        shown.attributes = kept;
      }
      return shown;
    },
    canReadChange(path, marked, userId) {
      if (!path.startsWith(ATTRIBUTES)) return allowed(path, "read", userId);
      const name = path.slice(ATTRIBUTES.length);
      const field = recorded.get(name.toLowerCase());
      if (field) return !field.restricted || field.read;
      return !marked || grants.has(fieldGrant(path, "read"));
    },
  };
}

/** Stands for "no schema needed" among the keys below. */
const NO_SCHEMA = {};
/**
 * Field access by grants, then schema, then the acting user: the credential cache keeps a credential's `Grants` and
 * the read schema cache a tenant's schema across requests, so a hot credential builds its access once, not per request.
 */
const built = new WeakMap<Grants, WeakMap<object, Map<string | null, FieldAccess>>>();

/**
 * The caller's field access for this request. The schema is read (once per request, and most user requests
 * have read it already) only when the credential's grants leave a custom field's access open.
 */
export async function fieldAccess(ctx: ServiceContext): Promise<FieldAccess> {
  const grants = ctx.permissions;
  if (!grants) return EVERYTHING;
  const everyField = ["read", "write"].every((action) => grants.covers(`users.attributes.*:${action}`));
  const schema = everyField ? null : await tenantSchema(ctx);
  const bySchema = built.get(grants) ?? new WeakMap<object, Map<string | null, FieldAccess>>();
  built.set(grants, bySchema);
  const byActor = bySchema.get(schema ?? NO_SCHEMA) ?? new Map<string | null, FieldAccess>();
  bySchema.set(schema ?? NO_SCHEMA, byActor);
  const selfId = ctx.actor.type === "user" ? ctx.actor.id : null;
  const access = byActor.get(selfId) ?? accessOf(ctx, schema?.fields ?? []);
  byActor.set(selfId, access);
  return access;
}

function notWritable(fields: readonly string[], prefix: readonly string[]): ApiError {
  const errors: FieldError[] = fields.map((field) => ({
    field: [...prefix, field].join("."),
    code: "not_writable",
    detail: `This credential may not write '${field}' (that takes the field grant ${fieldGrant(field, "write")}).`,
  }));
  return new ApiError(UserErrors.FIELD_NOT_WRITABLE, {
    detail: `This credential may not write ${errors.map((e) => `'${e.field}'`).join(", ")}; nothing was changed.`,
    errors,
  });
}

/**
 * The restricted fields a user's new values (a create's input) set: email, phone and restricted custom fields
 * given a value. Values the system fills in (a field's default) are not the caller's.
 */
export function assertCreateWritable(
  access: FieldAccess,
  input: { email?: string | null; phone?: string | null; attributes?: Record<string, unknown> },
  prefix: readonly string[] = [],
): void {
  if (access.all) return;
  const refused = new Set<string>();
  for (const field of RESTRICTED_CORE_FIELDS) {
    if (input[field] !== undefined && input[field] !== null && !access.canWrite(field)) refused.add(field);
  }
  for (const [key, value] of Object.entries(input.attributes ?? {})) {
    const name = access.restrictedField(key);
    if (name !== null && value !== null && !access.canWrite(`attributes.${name}`)) refused.add(`attributes.${name}`);
  }
  if (refused.size > 0) throw notWritable([...refused], prefix);
}

/**
 * The restricted fields a merge patch names: its `email` and `phone` members, its restricted `attributes`
 * members (by current name), and every restricted field when it replaces `attributes` as a whole (null).
 */
export function namedFields(access: FieldAccess, patch: Json): string[] {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return [];
  const named: string[] = RESTRICTED_CORE_FIELDS.filter((field) => field in patch);
  const attributes = patch.attributes;
  if (attributes === null) named.push(...access.restrictedNames.map((name) => `attributes.${name}`));
  else if (typeof attributes === "object" && !Array.isArray(attributes)) {
    for (const key of Object.keys(attributes)) {
      const name = access.restrictedField(key);
      if (name !== null) named.push(`attributes.${name}`);
    }
  }
  return named;
}

/**
 * An update may not change a field the caller may not write; nor may it name one the caller can neither read
 * nor write, even with its current value (a no-op would otherwise tell a guess right from wrong).
 */
export function assertUpdateWritable(
  access: FieldAccess,
  userId: string,
  change: { named: readonly string[]; changed: readonly string[] },
  prefix: readonly string[] = [],
): void {
  if (access.all) return;
  const refused = new Set<string>();
  for (const field of change.named) {
    if (!access.canRead(field, userId) && !access.canWrite(field, userId)) refused.add(field);
  }
  for (const field of change.changed) {
    if (!access.canWrite(field, userId)) refused.add(field);
  }
  if (refused.size > 0) throw notWritable([...refused], prefix);
}

/** The attributes a filter names (lower-cased); inside a value path also as `<path>.<attribute>`. */
function filterFields(tree: FilterNode): Set<string> {
  const fields = new Set<string>();
  walkFilter(tree, (node) => {
    if (!("attribute" in node)) return;
    fields.add(node.attribute.toLowerCase());
    if (node.type !== "valuePath") return;
    walkFilter(node.filter, (inner) => {
      if ("attribute" in inner) fields.add(`${node.attribute}.${inner.attribute}`.toLowerCase());
    });
  });
  return fields;
}

function notReadable(fields: readonly string[], where: "filter" | "sort"): ApiError {
  return new ApiError(UserErrors.FIELD_NOT_READABLE, {
    detail: `The ${where} uses ${fields.map((f) => `'${f}'`).join(", ")}, which this credential may not read.`,
    errors: fields.map((field) => ({
      field,
      code: "not_readable",
      detail: `This credential may not read '${field}' (that takes the field grant ${fieldGrant(field, "read")}), so it cannot ${where} on it.`,
    })),
  });
}

/**
 * A filter may only use fields the caller may read: 403 FIELD_NOT_READABLE otherwise (no oracle by filtering).
 * The schema is read only when the filter names a custom field (compiling it reads the schema then anyway).
 */
export async function assertFilterReadable(ctx: ServiceContext, tree: FilterNode): Promise<void> {
  if (!ctx.permissions) return;
  const paths = [...filterFields(tree)];
  const access = paths.some((path) => path.startsWith(ATTRIBUTES)) ? await fieldAccess(ctx) : accessOf(ctx, []);
  if (access.all) return;
  const refused = new Set<string>();
  for (const path of paths) {
    const field = canonicalField(access, path);
    if (field !== null && !access.canRead(field)) refused.add(field);
  }
  if (refused.size > 0) throw notReadable([...refused], "filter");
}

/** A sort on `attributes.<name>` needs that field readable (the other sorts are on fields anyone may read). */
export async function assertSortReadable(ctx: ServiceContext, sort: string): Promise<void> {
  const path = sort.replace(/^-/, "");
  if (!ctx.permissions || !path.startsWith(ATTRIBUTES)) return;
  const access = await fieldAccess(ctx);
  const field = canonicalField(access, path);
  if (field !== null && !access.canRead(field)) throw notReadable([field], "sort");
}

/**
 * What `q=` may match for this caller (users.search.ts): email and phone through their own keyed n-grams; the
 * plaintext `fields` column only when every searchable plain field in it is readable, and the `pii` n-grams
 * (one key for all pii fields, so they cannot be told apart) only when every searchable pii field is.
 */
export interface SearchScope {
  email: boolean;
  phone: boolean;
  textFields: boolean;
  piiFields: boolean;
}

export const WHOLE_SEARCH: SearchScope = { email: true, phone: true, textFields: true, piiFields: true };

export async function searchScope(ctx: ServiceContext): Promise<SearchScope> {
  const grants = ctx.permissions;
  if (!grants) return WHOLE_SEARCH;
  const core = accessOf(ctx, []);
  const scope = { ...WHOLE_SEARCH, email: core.canRead("email"), phone: core.canRead("phone") };
  if (grants.covers("users.attributes.*:read")) return scope;
  const fields = (await tenantSchema(ctx)).fields.filter((f) => f.deletedAt === null && f.searchable);
  const readable = (field: (typeof fields)[number]) =>
    !field.restricted || grants.has(fieldGrant(`${ATTRIBUTES}${field.name}`, "read"));
  return {
    ...scope,
    textFields: fields.filter((f) => !f.pii).every(readable),
    piiFields: fields.filter((f) => f.pii).every(readable),
  };
}

/** `email`, `phone` or `attributes.<current name>` of a restricted field; null for anything else. */
function canonicalField(access: FieldAccess, path: string): string | null {
  const lower = path.toLowerCase();
  if ((RESTRICTED_CORE_FIELDS as readonly string[]).includes(lower)) return lower;
  if (!lower.startsWith(ATTRIBUTES)) return null;
  const name = access.restrictedField(path.slice(ATTRIBUTES.length));
  return name === null ? null : `${ATTRIBUTES}${name}`;
}
