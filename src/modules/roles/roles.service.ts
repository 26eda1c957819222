import { isScoped, parseAssignment, scopedAssignmentErrors } from "../../core/auth/assignments";
import { forgetTenantCredentials } from "../../core/auth/credentials";
import type { Grants } from "../../core/auth/grants";
import {
  BUILT_IN_ROLE_NAMES,
  BUILT_IN_ROLES,
  type CustomRoles,
  isBuiltInRole,
  isKnownRole,
  rolesBeyond,
} from "../../core/auth/permissions";
import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { uniqueViolation } from "../../core/db/statements";
import type { RoleRow } from "../../core/db/tenant-schema";
import { ApiError, CoreErrors, type FieldError } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { validationError } from "../../core/http/validation";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { liveFields } from "../schema/attributes";
import { tenantSchema } from "../schema/schema.service";
import { type GrantableField, grantableFields, grantErrors } from "./roles.catalogue";
import { RoleErrors } from "./roles.errors";
import {
  customRolesOf,
  deleteUnheldRole,
  findRoleRow,
  holdersOfRole,
  insertRoleRow,
  listRoleRows,
  updateRoleRow,
} from "./roles.repo";
import type { CreateRoleInput, Role, RolePatch } from "./roles.schema";

export interface VersionedRole {
  role: Role;
  etag: string;
}

function builtInRole(name: string): Role {
  const definition = BUILT_IN_ROLES[name];
  return {
    name,
    description: definition?.description ?? null,
    permissions: [...(definition?.grants ?? [])],
    builtIn: true,
    createdAt: null,
    updatedAt: null,
  };
}

function toRole(row: RoleRow): Role {
  const { name, description, grants, createdAt, updatedAt } = row;
  return { name, description, permissions: grants, builtIn: false, createdAt, updatedAt };
}

/** A built-in role changes only with the code: its ETag is a digest of what it grants. */
async function builtInEtag(name: string): Promise<string> {
  return `"b-${(await sha256Hex(JSON.stringify(builtInRole(name)))).slice(0, 16)}"`;
}

function notFound(name: string): ApiError {
  return new ApiError(RoleErrors.ROLE_NOT_FOUND, { detail: `No role ${name}.` });
}

function builtInRefusal(name: string, what: string): ApiError {
  return new ApiError(RoleErrors.BUILT_IN_ROLE, { detail: `${name} is a built-in role: it cannot be ${what}.` });
}

/** The built-in roles first (as documented), then the custom ones (SCIM groups included) by name. */
export async function listRoles(ctx: ServiceContext): Promise<Role[]> {
  const rows = await listRoleRows(ctx.db);
  return [...BUILT_IN_ROLE_NAMES.map(builtInRole), ...rows.map(toRole)];
}

export async function getRole(ctx: ServiceContext, name: string): Promise<VersionedRole> {
  if (isBuiltInRole(name)) return { role: builtInRole(name), etag: await builtInEtag(name) };
  const row = await findRoleRow(ctx.db, name);
  if (!row) throw notFound(name);
  return { role: toRole(row), etag: etagOf(row.version) };
}

async function fieldsOf(ctx: ServiceContext): Promise<GrantableField[]> {
  return grantableFields(liveFields(await tenantSchema(ctx)));
}

/** Duplicates dropped, order kept: the role shows its grants as they were written. */
function normalized(grants: readonly string[]): string[] {
  return [...new Set(grants)];
}

/** Each grant must name something real (400, one entry per grant). */
async function assertRealGrants(ctx: ServiceContext, grants: readonly string[]): Promise<void> {
  const errors = grantErrors(grants, await fieldsOf(ctx));
  if (errors.length > 0) throw validationError(errors, "body");
}

/**
 * A caller hands out only what it holds: every grant of the role as it will be, and — on a change or a deletion
 * — every grant it has now (else a caller could rewrite a role more powerful than itself). The admin token and
 * system work carry no grants and are not limited.
 */
function assertGrantsHeld(ctx: ServiceContext, grants: readonly string[], what: string): void {
  if (!ctx.permissions) return;
  const holder = ctx.permissions;
  const missing = [...new Set(grants)].filter((grant) => !holder.covers(grant));
  if (missing.length > 0) {
    throw new ApiError(RoleErrors.ROLE_GRANTS_NOT_HELD, {
      detail: `This credential does not hold ${missing.join(", ")}: it cannot ${what}.`,
      extensions: { grants: missing },
    });
  }
}

function tenantIdOf(ctx: ServiceContext): string {
  if (!ctx.tenant) throw new Error("roles belong to a tenant: a tenant service context is required");
  return ctx.tenant.id;
}

/** This isolate sees a role write at once; others within CREDENTIAL_CACHE_SECONDS (docs/access-control.md). */
function roleWritten(ctx: ServiceContext): void {
  forgetTenantCredentials(tenantIdOf(ctx));
}

export async function createRole(ctx: ServiceContext, input: CreateRoleInput): Promise<VersionedRole> {
  if (isBuiltInRole(input.name)) throw builtInRefusal(input.name, "created again");
  // the errors name the grants where the request has them (`permissions.<i>`), so before duplicates go
  await assertRealGrants(ctx, input.permissions);
  const grants = normalized(input.permissions);
  assertGrantsHeld(ctx, grants, `create a role granting ${grants.length === 1 ? "it" : "them"}`);
  const at = new Date().toISOString();
  const row: RoleRow = {
    name: input.name,
    // the SCIM displayName of the group this role also is
    displayName: input.name,
    externalId: null,
    grants,
    description: input.description ?? null,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const changes = diffChanges(null, { description: row.description, permissions: grants });
  try {
    await ctx.db.batch([
      insertRoleRow(ctx.db, row),
      await auditStatement(ctx, { action: "role.created", resource: { type: "role", id: row.name }, changes }, { at }),
    ]);
  } catch (error) {
    if (uniqueViolation(error)) {
      throw new ApiError(RoleErrors.ROLE_EXISTS, {
        detail: `A role (or a SCIM group with that displayName) named ${row.name} exists.`,
      });
    }
    throw error;
  }
  roleWritten(ctx);
  return { role: toRole(row), etag: etagOf(1) };
}

async function currentCustomRole(ctx: ServiceContext, name: string, what: string): Promise<RoleRow> {
  if (isBuiltInRole(name)) throw builtInRefusal(name, what);
  const row = await findRoleRow(ctx.db, name);
  if (!row) throw notFound(name);
  return row;
}

function changedMeanwhile(name: string, ifMatch: string | undefined): ApiError {
  return ifMatch
    ? new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: `Role ${name} changed meanwhile; read it again.` })
    : new ApiError(CoreErrors.CONFLICT, { detail: `Role ${name} changed meanwhile; try again.` });
}

export async function updateRole(
  ctx: ServiceContext,
  name: string,
  patch: RolePatch,
  ifMatch: string | undefined,
): Promise<VersionedRole> {
  const current = await currentCustomRole(ctx, name, "changed");
  assertIfMatch(ifMatch, etagOf(current.version));
  const grants = patch.permissions === undefined ? current.grants : normalized(patch.permissions);
  const description = patch.description === undefined ? current.description : patch.description;
  if (patch.permissions !== undefined) await assertRealGrants(ctx, patch.permissions);
  assertGrantsHeld(ctx, [...current.grants, ...grants], `change role ${name}`);
  const before = { description: current.description, permissions: current.grants };
  const changes = diffChanges(before, { description, permissions: grants });
  if (Object.keys(changes).length === 0) return { role: toRole(current), etag: etagOf(current.version) };
  const at = new Date().toISOString();
  const [updated] = await ctx.db.batch([
    updateRoleRow(ctx.db, name, current.version, { grants, description, updatedAt: at }),
    await auditStatement(
      ctx,
      { action: "role.updated", resource: { type: "role", id: name }, changes },
      { at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!updated?.meta.changes) throw changedMeanwhile(name, ifMatch);
  roleWritten(ctx);
  const row: RoleRow = { ...current, grants, description, updatedAt: at, version: current.version + 1 };
  return { role: toRole(row), etag: etagOf(row.version) };
}

/** Deletes a custom role nobody holds (409 ROLE_IN_USE with the counts otherwise). */
export async function deleteRole(ctx: ServiceContext, name: string, ifMatch: string | undefined): Promise<void> {
  const current = await currentCustomRole(ctx, name, "deleted");
  assertIfMatch(ifMatch, etagOf(current.version));
  assertGrantsHeld(ctx, current.grants, `delete role ${name}`);
  const changes = diffChanges({ description: current.description, permissions: current.grants }, null);
  const [deleted] = await ctx.db.batch([
    deleteUnheldRole(ctx.db, name, current.version),
    await auditStatement(
      ctx,
      { action: "role.deleted", resource: { type: "role", id: name }, changes },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (deleted?.meta.changes) {
    roleWritten(ctx);
    return;
  }
  const holders = await holdersOfRole(ctx.db, name);
  if (holders.users + holders.apiKeys + holders.oauthClients > 0) {
    throw new ApiError(RoleErrors.ROLE_IN_USE, {
      detail:
        `Role ${name} is held by ${holders.users} user(s) (soft-deleted ones included: a restore gives their ` +
        `roles back), ${holders.apiKeys} API key(s) and ${holders.oauthClients} OAuth client(s); take it from ` +
        "them first.",
      extensions: { holders },
    });
  }
  const still = await findRoleRow(ctx.db, name);
  if (!still) throw notFound(name);
  throw changedMeanwhile(name, ifMatch);
}

const definitionsPerRequest = new WeakMap<object, Map<string, readonly string[] | null>>();

/**
 * The definitions of the custom roles among `names`, as written (whatever the plan: see customRolesOf), read
 * once per request or job — a bulk request checks many users against the same few roles.
 */
export async function roleDefinitions(ctx: Pick<ServiceContext, "db">, names: readonly string[]): Promise<CustomRoles> {
  let known = definitionsPerRequest.get(ctx);
  if (!known) {
    known = new Map();
    definitionsPerRequest.set(ctx, known);
  }
  const missing = names.filter((name) => !isBuiltInRole(name) && !known.has(name));
  if (missing.length > 0) {
    const loaded = await customRolesOf(ctx.db, missing);
    for (const name of missing) known.set(name, loaded.get(name) ?? null);
  }
  const result = new Map<string, readonly string[]>();
  for (const name of names) {
    const grants = known.get(name);
    if (grants) result.set(name, grants);
  }
  return result;
}

export interface AssignmentOptions {
  /** Whose grants bound the assignment; by default the caller's (none for the admin token and system work). */
  holder?: Grants | undefined;
  /**
   * What a name nobody defined is: refused for API keys and OAuth clients; kept for users, whose roles are also
   * labels (a provisioning client's group before it exists here) that grant nothing until defined.
   */
  unknownRoles: "refuse" | "allow";
  /** Where the roles sit in the request, for field errors. */
  field?: string;
}

export interface AssignmentFindings {
  /** Field errors (unknown roles), for the caller's 400. */
  errors: FieldError[];
  /** The roles granting more than the holder holds, for the caller's 403. */
  beyond: string[];
}

/**
 * THE check of roles about to be given to a user, an API key or an OAuth client (one place, so that role
 * assignments can grow, e.g. scoped to a sub-account, without a second copy): each name known (built in, or a
 * row of the roles table — even on a plan without custom roles, where it grants nothing), and none granting more
 * than the holder holds, judged on the roles' definitions whatever the plan (an upgrade must not turn an
 * assignment into a step up). Returns the findings; each caller answers them with its own problem codes.
 */
export async function validateAssignments(
  ctx: ServiceContext,
  roles: readonly string[],
  options: AssignmentOptions,
): Promise<AssignmentFindings> {
  const custom = await roleDefinitions(
    ctx,
    roles.map((entry) => parseAssignment(entry).role),
  );
  const field = options.field ?? "roles";
  const errors: FieldError[] = [];
  if (options.unknownRoles === "refuse") {
    roles.forEach((role, i) => {
      if (!isScoped(role) && !isKnownRole(role, custom))
        errors.push({ field: `${field}.${i}`, code: "unknown_role", detail: `No role '${role}'.` });
    });
  }
  // a role scoped to a sub-account (`manager@ten_…`): its role known and its account one of this tenant's
  if (ctx.tenant) errors.push(...(await scopedAssignmentErrors(ctx.env, ctx.tenant.id, roles, { custom, field })));
  const holder = "holder" in options ? options.holder : ctx.permissions;
  const beyond = holder ? rolesBeyond(holder, roles, custom, ctx.accountRights) : [];
  return { errors, beyond };
}
