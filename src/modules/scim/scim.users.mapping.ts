import type { Json } from "../../core/http/merge-patch";
import type { TenantSchema } from "../schema/fields.types";
import { normalizeEmail } from "../users/users.mapping";
import type { User } from "../users/users.schema";
import { ScimErrors, scimError } from "./scim.errors";
import { attributesPatch, extensionValues, scimFields } from "./scim.extension";
import { URN } from "./scim.urns";

/**
 * A user ⇄ a SCIM User (RFC 7643 §4.1). What maps (docs/scim.md):
 * userName ⇄ username, or the email when the user has no username; name.formatted (else the joined name parts,
 * else displayName) ⇄ name, and displayName = name; emails ⇄ email (one stored: the primary, else the first);
 * phoneNumbers ⇄ phone (likewise); active ⇄ status active/disabled; externalId ⇄ externalId; password → password
 * (write-only); groups ← roles (read-only); the extension ⇄ attributes; id, meta read-only.
 */

export type ScimDoc = Record<string, unknown>;

export interface ScimView {
  /** Absolute /scim/v2 URL. */
  base: string;
  schema: TenantSchema;
}

export function userLocation(base: string, id: string): string {
  return `${base}/Users/${id}`;
}

/**
 * The SCIM User of a user as the caller may see it (users.fields-access.ts): without the email it may not read,
 * `emails` is left out and a user without a username gets their id as userName (RFC 7643 §4.1.1 requires one;
 * `fromScimUser` reads that placeholder back as "no username").
 */
export function toScimUser(user: User, etag: string, view: ScimView): ScimDoc {
  const extension = extensionValues(view.schema, user.attributes);
  const hasExtension = scimFields(view.schema).length > 0;
  return {
    schemas: hasExtension ? [URN.user, URN.extension] : [URN.user],
    id: user.id,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    userName: user.username ?? user.email ?? user.id,
    ...(user.name ? { name: { formatted: user.name }, displayName: user.name } : {}),
    ...(user.email !== undefined ? { emails: [{ value: user.email, type: "work", primary: true }] } : {}),
    ...(user.phone ? { phoneNumbers: [{ value: user.phone, type: "work", primary: true }] } : {}),
    active: user.status === "active",
    ...(user.roles.length > 0
      ? { groups: user.roles.map((role) => ({ value: role, $ref: `${view.base}/Groups/${role}`, display: role })) }
      : {}),
    ...(hasExtension ? { [URN.extension]: extension } : {}),
    meta: {
      resourceType: "User",
      created: user.createdAt,
      lastModified: user.updatedAt,
      location: userLocation(view.base, user.id),
      version: etag,
    },
  };
}

/** Core User attributes (RFC 7643 §4.1) this service does not store: accepted and ignored, like read-only ones. */
const UNSTORED = new Set([
  "nickname",
  "profileurl",
  "title",
  "usertype",
  "preferredlanguage",
  "locale",
  "timezone",
  "ims",
  "photos",
  "addresses",
  "entitlements",
  "roles",
  "x509certificates",
]);
const READ_ONLY = new Set(["id", "meta", "groups", "schemas"]);
const STORED = ["externalId", "userName", "name", "displayName", "emails", "phoneNumbers", "active", "password"];

/** The keys of a SCIM User in their canonical case (attribute names are case-insensitive, RFC 7643 §2.1). */
export function canonicalUser(doc: ScimDoc, options: { lenient: boolean }): ScimDoc {
  const out: ScimDoc = {};
  for (const [key, value] of Object.entries(doc)) {
    const lower = key.toLowerCase();
    const stored = STORED.find((name) => name.toLowerCase() === lower);
    if (stored) out[stored] = value;
    else if (lower === URN.extension.toLowerCase()) out[URN.extension] = value;
    else if (READ_ONLY.has(lower) || UNSTORED.has(lower) || lower === URN.enterprise.toLowerCase()) continue;
    else if (!options.lenient) {
      throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, `"${key}" is not an attribute of ${URN.user}.`);
    }
  }
  return out;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function lowerKeys(value: unknown): Record<string, unknown> {
  const object = record(value) ?? {};
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The one value kept of a multi-valued attribute: the primary, else the first (RFC 7643 §2.4). */
function chosen(attribute: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${attribute} must be a list.`);
  const entries = value.map(lowerKeys);
  const pick = entries.find((entry) => entry.primary === true) ?? entries[0];
  if (!pick) return null;
  if (typeof pick.value !== "string") {
    throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${attribute}.value must be a string.`);
  }
  return pick.value;
}

function text(attribute: string, value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${attribute} must be a string.`);
  return value;
}

const NAME_PARTS = ["honorificprefix", "givenname", "middlename", "familyname", "honorificsuffix"];

/** name.formatted, the joined parts, displayName: the candidates for our one `name`, in precedence order. */
function nameCandidates(doc: ScimDoc): (string | null)[] {
  const name = lowerKeys(doc.name);
  const parts = NAME_PARTS.map((part) => text(`name.${part}`, name[part])).filter((p): p is string => p !== null);
  return [
    text("name.formatted", name.formatted),
    parts.length > 0 ? parts.join(" ") : null,
    text("displayName", doc.displayName),
  ];
}

/**
 * The name a document gives. After a PATCH (`before` is the document the operations applied to), the candidate
 * the operations changed wins, so that replacing `displayName` or `name.givenName` is not hidden by the
 * unchanged `name.formatted`.
 */
function nameOf(doc: ScimDoc, before: ScimDoc | undefined): string | null {
  const now = nameCandidates(doc);
  if (before) {
    const then = nameCandidates(before);
    const changed = now.findIndex((value, i) => value !== then[i]);
    if (changed >= 0) return now[changed] ?? null;
  }
  return now.find((value) => value !== null) ?? null;
}

/** RFC 7643 `active` is a boolean; Entra ID sends "True"/"False" strings (accepted in lenient mode only). */
function activeOf(value: unknown, lenient: boolean): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (lenient && typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  throw scimError(
    ScimErrors.SCIM_INVALID_VALUE,
    `active must be true or false, not ${JSON.stringify(value)} (lenient mode accepts "True"/"False").`,
  );
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

/**
 * What a replacing document cannot be expected to carry: the fields the caller may not read (it was never shown
 * them, so leaving them out does not unassign them), and the userName shown instead of a hidden email.
 */
export interface HiddenFields {
  email: boolean;
  phone: boolean;
  /** The user's id, shown as userName to a caller who may not read the email of a user without username. */
  userNamePlaceholder?: string;
}

/**
 * A whole SCIM User (POST, PUT, or the result of a PATCH) as our writable fields. Attributes it leaves out are
 * unassigned (RFC 7644 §3.5.1), except roles (written through Groups), restricted custom fields and the
 * `hidden` ones.
 */
export function fromScimUser(
  input: ScimDoc,
  options: { lenient: boolean; schema: TenantSchema; before?: ScimDoc; hidden?: HiddenFields },
): Record<string, Json> {
  const doc = canonicalUser(input, options);
  const hidden = options.hidden;
  const userName = text("userName", doc.userName);
  if (!userName) throw scimError(ScimErrors.SCIM_INVALID_VALUE, "userName is required.");
  let email = chosen("emails", doc.emails);
  let username: string | null = userName;
  if (hidden?.userNamePlaceholder === userName) {
    // the placeholder of a user without username, as it was shown: still none
    username = null;
  } else if (!USERNAME.test(userName)) {
    // an email-shaped userName (Okta's and Entra's default) is the email itself, when it is the user's email
    if (!userName.includes("@")) {
      throw scimError(
        ScimErrors.SCIM_INVALID_VALUE,
        "userName must be 3–64 letters, digits, '.', '_' or '-', or the user's email address.",
      );
    }
    email ??= userName;
    if (normalizeEmail(email) !== normalizeEmail(userName)) {
      throw scimError(
        ScimErrors.SCIM_INVALID_VALUE,
        "userName is an email address other than the user's email: map userName to the user's email, or to a " +
          "username of letters, digits, '.', '_' or '-' (docs/scim.md).",
      );
    }
    username = null;
  }
  if (!email && !hidden?.email) {
    throw scimError(ScimErrors.SCIM_INVALID_VALUE, "emails is required (one value is stored).");
  }
  const active = activeOf(doc.active, options.lenient);
  const extension = record(doc[URN.extension]) ?? {};
  const patch: Record<string, Json> = {
    ...(email ? { email } : {}),
    username,
    name: nameOf(doc, options.before),
    ...(hidden?.phone && doc.phoneNumbers === undefined ? {} : { phone: chosen("phoneNumbers", doc.phoneNumbers) }),
    externalId: text("externalId", doc.externalId),
    attributes: attributesPatch(options.schema, extension, { lenient: options.lenient }),
  };
  if (active !== undefined) patch.status = active ? "active" : "disabled";
  if (doc.password !== undefined) patch.password = text("password", doc.password);
  return patch;
}
