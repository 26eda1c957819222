import { BUILT_IN_ROLE_NAMES } from "../../core/auth/permissions";
import { sha256Hex } from "../../core/crypto/hash";
import { uniqueViolation } from "../../core/db/statements";
import type { RoleRow } from "../../core/db/tenant-schema";
import { assertIfMatch } from "../../core/http/etag";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { parseUserFilter } from "../users/users.filter";
import { ScimErrors, scimError } from "./scim.errors";
import { changeMembership, checkMembership } from "./scim.groups.members";
import {
  deleteRole,
  findRole,
  holdersOf,
  insertRole,
  registeredRoles,
  rolesInUse,
  updateRole,
} from "./scim.groups.repo";
import { requirePermission, type ScimContext } from "./scim.http";
import { matches } from "./scim.match";
import { applyPatch, type ResourceShape, readPatchRequest } from "./scim.patch";
import { type Projection, project } from "./scim.projection";
import { URN } from "./scim.urns";
import type { ScimDoc } from "./scim.users.mapping";

/**
 * A Group is a role (RFC 7643 §4.2 ⇄ users' roles): its id is the role name, its members the users holding
 * it. The built-in roles and every role some user holds are groups; a group created through SCIM is kept in the
 * `roles` table (with its displayName and externalId) so it exists before it has members.
 */

export const GROUP_SHAPE: ResourceShape = {
  core: URN.group,
  extensions: [],
  attributes: ["schemas", "id", "externalId", "meta", "displayName", "members"],
  multiValued: new Set(["members"]),
  readOnly: new Set(["id", "meta", "schemas"]),
};

interface Group {
  name: string;
  row: RoleRow | null;
  builtIn: boolean;
}

export interface ScimGroup {
  doc: ScimDoc;
  etag: string;
}

function displayNameOf(group: Group): string {
  return group.row?.displayName ?? group.name;
}

async function allGroups(ctx: ScimContext): Promise<Group[]> {
  const [rows, inUse] = await Promise.all([registeredRoles(ctx.db), rolesInUse(ctx.db)]);
  const byName = new Map(rows.map((row) => [row.name, row]));
  const names = [...new Set([...BUILT_IN_ROLE_NAMES, ...rows.map((r) => r.name), ...inUse])].sort();
  return names.map((name) => ({ name, row: byName.get(name) ?? null, builtIn: BUILT_IN_ROLE_NAMES.includes(name) }));
}

async function findGroup(ctx: ScimContext, name: string): Promise<Group> {
  const row = await findRole(ctx.db, name);
  const builtIn = BUILT_IN_ROLE_NAMES.includes(name);
  if (row || builtIn || (await holdersOf(ctx.db, name)).length > 0) return { name, row, builtIn };
  throw scimError(ScimErrors.SCIM_GROUP_NOT_FOUND, `No group ${name}.`);
}

/** A weak validator over what the representation holds (membership lives in the users, not in one row). */
async function etagOf(group: Group, memberIds: readonly string[]): Promise<string> {
  const state = JSON.stringify([group.row?.version ?? 0, displayNameOf(group), group.row?.externalId, memberIds]);
  return `W/"${(await sha256Hex(state)).slice(0, 20)}"`;
}

async function toDoc(ctx: ScimContext, group: Group, withMembers: boolean): Promise<ScimGroup> {
  const members = withMembers ? await holdersOf(ctx.db, group.name) : null;
  const etag = members
    ? await etagOf(
        group,
        members.map((m) => m.id),
      )
    : "";
  const doc: ScimDoc = {
    schemas: [URN.group],
    id: group.name,
    ...(group.row?.externalId ? { externalId: group.row.externalId } : {}),
    displayName: displayNameOf(group),
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.id,
            $ref: `${ctx.base}/Users/${m.id}`,
            type: "User",
            ...(m.username ? { display: m.username } : {}),
          })),
        }
      : {}),
    meta: {
      resourceType: "Group",
      ...(group.row ? { created: group.row.createdAt, lastModified: group.row.updatedAt } : {}),
      location: `${ctx.base}/Groups/${group.name}`,
      ...(etag ? { version: etag } : {}),
    },
  };
  return { doc, etag };
}

/** Whether a response needs the members (Entra ID asks `excludedAttributes=members` to spare the work). */
function wantsMembers(projection: Projection): boolean {
  const listed = (list: string | undefined) =>
    (list ?? "")
      .split(",")
      .some((a) => a.trim().toLowerCase().replace(`${URN.group.toLowerCase()}:`, "").startsWith("members"));
  if (projection.attributes) return listed(projection.attributes);
  return !listed(projection.excludedAttributes);
}

export function shownGroup(group: ScimGroup, projection: Projection): ScimDoc {
  return project(group.doc, projection, []);
}

export async function getScimGroup(ctx: ScimContext, id: string): Promise<ScimGroup> {
  requirePermission(ctx, "users:read");
  return toDoc(ctx, await findGroup(ctx, id), true);
}

export interface GroupListQuery extends Projection {
  filter?: string | undefined;
  startIndex: number;
  count: number;
  sortBy?: string | undefined;
  sortOrder?: "ascending" | "descending" | undefined;
}

/** Groups are few: filtered, sorted and paged in memory, with the same filter grammar (scim.match.ts). */
export async function listScimGroups(ctx: ScimContext, query: GroupListQuery, maxResults: number): Promise<ScimDoc> {
  requirePermission(ctx, "users:read");
  const tree = query.filter === undefined ? undefined : parseUserFilter(query.filter);
  const needMembers = wantsMembers(query) || (query.filter ?? "").toLowerCase().includes("members");
  const groups = await Promise.all((await allGroups(ctx)).map((group) => toDoc(ctx, group, needMembers)));
  let docs = groups.map((g) => g.doc).filter((doc) => !tree || matches(tree, doc));
  if (query.sortBy) {
    const key = query.sortBy.toLowerCase().endsWith("displayname") ? "displayName" : "id";
    docs = docs.sort((a, b) => String(a[key]).localeCompare(String(b[key])));
    if (query.sortOrder === "descending") docs.reverse();
  }
  const startIndex = Math.max(1, query.startIndex);
  const page = docs.slice(startIndex - 1, startIndex - 1 + Math.min(Math.max(0, query.count), maxResults));
  return {
    schemas: [URN.listResponse],
    totalResults: docs.length,
    startIndex,
    itemsPerPage: page.length,
    Resources: page.map((doc) => project(doc, query, [])),
  };
}

/** A role name from a displayName: lower-case letters, digits, '-' (users.schema.ts RoleName). */
function roleNameFor(displayName: string): string {
  const slug = displayName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z]+|-+$/g, "")
    .slice(0, 56);
  return slug || "group";
}

interface GroupFields {
  displayName: string;
  externalId: string | null;
  members: string[];
}

function fieldsOf(doc: ScimDoc): GroupFields {
  const lowered = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k.toLowerCase(), v]));
  const displayName = lowered.displayname;
  if (typeof displayName !== "string" || displayName.trim() === "" || displayName.length > 200) {
    throw scimError(ScimErrors.SCIM_INVALID_VALUE, "displayName is required (1–200 characters).");
  }
  const externalId = lowered.externalid;
  if (externalId !== undefined && externalId !== null && typeof externalId !== "string") {
    throw scimError(ScimErrors.SCIM_INVALID_VALUE, "externalId must be a string.");
  }
  const members = lowered.members ?? [];
  if (!Array.isArray(members)) throw scimError(ScimErrors.SCIM_INVALID_VALUE, "members must be a list.");
  const ids = members.map((m) => {
    const entry =
      typeof m === "object" && m !== null ? Object.entries(m).find(([k]) => k.toLowerCase() === "value") : undefined;
    if (typeof entry?.[1] !== "string")
      throw scimError(ScimErrors.SCIM_INVALID_VALUE, "members[].value must be a user id.");
    return entry[1];
  });
  return { displayName: displayName.trim(), externalId: externalId ?? null, members: [...new Set(ids)] };
}

function taken(): never {
  throw scimError(ScimErrors.SCIM_GROUP_TAKEN, "Another group has this displayName or externalId.");
}

/** Writes the role row and its audit event in one batch; a unique index refusal is 409 uniqueness. */
async function writeRole(ctx: ScimContext, statement: D1PreparedStatement, action: string, name: string, changes = {}) {
  const audit = await auditStatement(
    ctx,
    { action, resource: { type: "role", id: name }, changes },
    { onlyIfPreviousChanged: true },
  );
  try {
    const [result] = await ctx.db.batch([statement, audit]);
    return (result?.meta.changes ?? 0) > 0;
  } catch (error) {
    if (uniqueViolation(error)) taken();
    throw error;
  }
}

export async function createScimGroup(ctx: ScimContext, body: ScimDoc): Promise<ScimGroup> {
  requirePermission(ctx, "users:write");
  const fields = fieldsOf(body);
  const groups = await allGroups(ctx);
  if (groups.some((g) => displayNameOf(g).toLowerCase() === fields.displayName.toLowerCase())) taken();
  const base = roleNameFor(fields.displayName);
  const names = new Set(groups.map((g) => g.name));
  let name = base;
  for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
  await checkMembership(ctx, name, { add: fields.members, remove: [] });
  const at = new Date().toISOString();
  const row: RoleRow = {
    name,
    displayName: fields.displayName,
    externalId: fields.externalId,
    grants: [],
    description: null,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  await writeRole(
    ctx,
    insertRole(ctx.db, row),
    "role.created",
    name,
    diffChanges(null, { displayName: row.displayName, externalId: row.externalId }),
  );
  await changeMembership(ctx, name, { add: fields.members, remove: [] });
  return toDoc(ctx, { name, row, builtIn: false }, true);
}

async function rewriteGroup(
  ctx: ScimContext,
  id: string,
  ifMatch: string | undefined,
  next: (current: ScimDoc) => ScimDoc,
): Promise<ScimGroup> {
  requirePermission(ctx, "users:write");
  const group = await findGroup(ctx, id);
  const current = await toDoc(ctx, group, true);
  assertIfMatch(ifMatch?.replace(/^W\//, ""), current.etag.replace(/^W\//, ""));
  const before = fieldsOf(current.doc);
  const after = fieldsOf(next(current.doc));
  const membership = {
    add: after.members.filter((m) => !before.members.includes(m)),
    remove: before.members.filter((m) => !after.members.includes(m)),
  };
  await checkMembership(ctx, id, membership);
  if (after.displayName !== before.displayName || after.externalId !== before.externalId) {
    if (group.builtIn) throw scimError(ScimErrors.SCIM_MUTABILITY, `The built-in group ${id} cannot be renamed.`);
    const at = new Date().toISOString();
    const changes = diffChanges(
      { displayName: before.displayName, externalId: before.externalId },
      { displayName: after.displayName, externalId: after.externalId },
    );
    const row: RoleRow = {
      name: id,
      displayName: after.displayName,
      externalId: after.externalId,
      grants: group.row?.grants ?? [],
      description: group.row?.description ?? null,
      createdAt: group.row?.createdAt ?? at,
      updatedAt: at,
      version: group.row?.version ?? 1,
    };
    const written = group.row
      ? await writeRole(ctx, updateRole(ctx.db, row, group.row.version), "role.updated", id, changes)
      : await writeRole(ctx, insertRole(ctx.db, row), "role.created", id, changes);
    if (!written) throw scimError(ScimErrors.SCIM_GROUP_TAKEN, "The group changed meanwhile; try again.");
  }
  await changeMembership(ctx, id, membership);
  return toDoc(ctx, await findGroup(ctx, id), true);
}

export function replaceScimGroup(ctx: ScimContext, id: string, body: ScimDoc, ifMatch?: string) {
  return rewriteGroup(ctx, id, ifMatch, () => body);
}

export function patchScimGroup(ctx: ScimContext, id: string, body: ScimDoc, ifMatch?: string) {
  const operations = readPatchRequest(body);
  return rewriteGroup(ctx, id, ifMatch, (current) => applyPatch(current, operations, GROUP_SHAPE, ctx));
}

/** Every member loses the role (through the users service), then the group's row goes. */
export async function deleteScimGroup(ctx: ScimContext, id: string, ifMatch?: string): Promise<void> {
  requirePermission(ctx, "users:write");
  const group = await findGroup(ctx, id);
  if (group.builtIn) throw scimError(ScimErrors.SCIM_MUTABILITY, `The built-in group ${id} cannot be deleted.`);
  const current = await toDoc(ctx, group, true);
  assertIfMatch(ifMatch?.replace(/^W\//, ""), current.etag.replace(/^W\//, ""));
  await changeMembership(ctx, id, { add: [], remove: fieldsOf(current.doc).members });
  if (group.row) await writeRole(ctx, deleteRole(ctx.db, id), "role.deleted", id);
}
