import type { ServiceContext } from "../../core/context";
import type { UserRow } from "../../core/db/tenant-schema";
import { ApiError } from "../../core/errors";
import { applyMergePatch, type Json } from "../../core/http/merge-patch";
import { fieldErrors, validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { insertAudit } from "../audit/audit.repo";
import { type AuditEntry, auditKeyOf, auditRecord, auditStatement } from "../audit/audit.service";
import type { AuditKey, AuditRecord } from "../audit/audit-chain";
import { type ChangePolicy, diffChanges } from "../audit/audit-changes";
import { hashNewPassword } from "../passwords/password-policy";
import { checkAttributes, liveFields, withCurrentNames } from "../schema/attributes";
import { tenantSchema } from "../schema/schema.service";
import { UserErrors } from "./users.errors";
import { assertCreateWritable, assertUpdateWritable, fieldAccess, namedFields } from "./users.fields-access";
import { auditView, normalizeEmail, normalizeUsername, USER_CHANGE_POLICY } from "./users.mapping";
import { deleteUserRow, insertUsersMany, updateUser } from "./users.repo";
import { assertAssignable, assertWithinRights } from "./users.rights";
import { type CreateUserInput, WritableUserSchema } from "./users.schema";

/**
 * A planned change: the statements that make it (the change first, then its audit row) and the row as it
 * will be. Single requests and bulk both run these plans, so a user changes the same way through either.
 */
export interface Plan {
  action: "user.created" | "user.updated" | "user.deleted" | "user.restored" | "user.purged";
  before: UserRow | null;
  after: UserRow | null;
  statements: D1PreparedStatement[];
}

/**
 * The trail masks `pii` custom fields like the built-in personal fields: no plaintext of them in audit rows. It
 * marks restricted fields' entries, so that they stay hidden from callers without the field grant even once the
 * schema no longer knows the field under that name (users.fields-access.ts, canReadChange).
 */
async function changePolicy(ctx: ServiceContext): Promise<ChangePolicy> {
  const fields = liveFields(await tenantSchema(ctx));
  const pii = fields.filter((field) => field.pii);
  const restricted = fields.filter((field) => field.restricted);
  if (pii.length === 0 && restricted.length === 0) return USER_CHANGE_POLICY;
  const personal = [...(USER_CHANGE_POLICY.personal ?? []), ...pii.map((field) => `attributes.${field.name}`)];
  return { ...USER_CHANGE_POLICY, personal, restricted: restricted.map((field) => `attributes.${field.name}`) };
}

function auditEntry(plan: Omit<Plan, "statements">, policy: ChangePolicy): AuditEntry {
  return {
    action: plan.action,
    resource: { type: "user", id: (plan.after ?? plan.before)?.id ?? null },
    // a purge keeps a tombstone: who and when, never what
    changes: plan.action === "user.purged" ? {} : diffChanges(auditView(plan.before), auditView(plan.after), policy),
  };
}

async function audit(ctx: ServiceContext, plan: Omit<Plan, "statements">, at: string, guarded: boolean) {
  const entry = auditEntry(plan, await changePolicy(ctx));
  return auditStatement(ctx, entry, { onlyIfPreviousChanged: guarded, at });
}

/** A new user: its row and its `user.created` audit record, not yet written anywhere. */
export interface NewUser {
  row: UserRow;
  audit: AuditRecord;
}

/** A patch whose `attributes` use renamed fields' previous names, with the current names instead. */
async function withCurrentFieldNames(ctx: ServiceContext, patch: Json): Promise<Json> {
  if (!isObject(patch) || !isObject(patch.attributes)) return patch;
  const attributes = withCurrentNames(await tenantSchema(ctx), patch.attributes) as Record<string, Json>;
  return { ...patch, attributes };
}

function isObject(value: Json | undefined): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The attributes checked against the tenant's custom fields (400 with one error per field), normalised. */
async function checkedAttributes(
  ctx: ServiceContext,
  attributes: Record<string, unknown>,
  creating: boolean,
  prefix: readonly string[],
): Promise<Record<string, unknown>> {
  const checked = checkAttributes(await tenantSchema(ctx), attributes, { creating, prefix });
  if (checked.errors.length > 0) throw validationError(checked.errors, "user");
  return checked.attributes;
}

export async function buildCreate(
  ctx: ServiceContext,
  key: AuditKey,
  input: CreateUserInput,
  at: string,
  fieldPrefix: readonly string[] = [],
): Promise<NewUser> {
  await assertAssignable(ctx, null, input.roles, fieldPrefix);
  await assertWithinRights(ctx, null, input.roles);
  assertCreateWritable(await fieldAccess(ctx), input, fieldPrefix);
  const attributes = await checkedAttributes(ctx, input.attributes, true, fieldPrefix);
  const row: UserRow = {
    id: newId("usr", Date.parse(at)),
    email: input.email.trim(),
    emailNormalized: normalizeEmail(input.email),
    username: input.username ?? null,
    usernameNormalized: normalizeUsername(input.username),
    name: input.name ?? null,
    phone: input.phone ?? null,
    status: input.status,
    restoreStatus: null,
    attributes,
    roles: [...new Set(input.roles)],
    passwordHash: input.password ? await hashNewPassword(ctx, input.password) : null,
    mfaTotp: false,
    createdAt: at,
    updatedAt: at,
    deletedAt: null,
    lastLoginAt: null,
    lastActiveAt: null,
    loginCount: 0,
    emailVerifiedAt: null,
    externalId: input.externalId ?? null,
    version: 1,
  };
  const entry = auditEntry({ action: "user.created", before: null, after: row }, await changePolicy(ctx));
  return { row, audit: auditRecord(ctx, key, entry, at) };
}

export async function planCreate(ctx: ServiceContext, input: CreateUserInput, at: string): Promise<Plan> {
  const { row, audit: record } = await buildCreate(ctx, await auditKeyOf(ctx), input, at);
  return {
    action: "user.created",
    before: null,
    after: row,
    statements: [...(await insertUsersMany(ctx, [row], { skipOnConflict: false })), insertAudit(ctx.db, record, false)],
  };
}

/**
 * Applies a JSON merge patch (RFC 7396) to the user's writable state; null when it changes nothing.
 * `fieldPrefix` names where the patch sits in the request (`data` in a bulk item) for the field errors.
 * `named`: the restricted fields the caller's request names, when the patch is not the caller's own (SCIM
 * derives one from a whole document); by default those the patch names (users.fields-access.ts).
 */
export async function planUpdate(
  ctx: ServiceContext,
  current: UserRow,
  patch: Json,
  at: string,
  fieldPrefix: readonly string[] = [],
  named?: readonly string[],
): Promise<Plan | null> {
  const writable: Record<string, Json> = {
    email: current.email,
    username: current.username,
    name: current.name,
    phone: current.phone,
    status: current.status,
    attributes: current.attributes as Record<string, Json>,
    roles: current.roles,
    externalId: current.externalId,
  };
  const access = await fieldAccess(ctx);
  const renamed = await withCurrentFieldNames(ctx, patch);
  // a field the caller can neither read nor write is refused by name, before its value is even looked at
  assertUpdateWritable(access, current.id, { named: named ?? namedFields(access, renamed), changed: [] }, fieldPrefix);
  const merged = applyMergePatch(writable, renamed) as Record<string, Json>;
  merged.attributes ??= {};
  merged.roles ??= [];
  const parsed = WritableUserSchema.safeParse(merged);
  if (!parsed.success) throw validationError(fieldErrors(parsed.error.issues, fieldPrefix), "user");
  const next = parsed.data;
  await assertAssignable(ctx, current, next.roles, fieldPrefix);
  await assertWithinRights(ctx, current, next.roles);
  const attributes = await checkedAttributes(ctx, next.attributes, false, fieldPrefix);
  const passwordPatched = typeof patch === "object" && patch !== null && !Array.isArray(patch) && "password" in patch;
  const after: UserRow = {
    ...current,
    email: next.email.trim(),
    emailNormalized: normalizeEmail(next.email),
    // a new address is unproven (the users_email_changed trigger does the same in the database)
    emailVerifiedAt: normalizeEmail(next.email) === current.emailNormalized ? current.emailVerifiedAt : null,
    username: next.username ?? null,
    usernameNormalized: normalizeUsername(next.username),
    name: next.name ?? null,
    phone: next.phone ?? null,
    status: next.status,
    attributes,
    roles: [...new Set(next.roles)],
    externalId: next.externalId ?? null,
    passwordHash: passwordPatched
      ? next.password
        ? await hashNewPassword(ctx, next.password, [...fieldPrefix, "password"].join("."))
        : null
      : current.passwordHash,
    updatedAt: at,
    version: current.version + 1,
  };
  const changed = Object.keys(diffChanges(auditView(current), auditView(after)));
  if (changed.length === 0) return null;
  assertUpdateWritable(access, current.id, { named: [], changed }, fieldPrefix);
  return guardedChange(ctx, "user.updated", current, after, at);
}

export async function planSoftDelete(ctx: ServiceContext, current: UserRow, at: string): Promise<Plan> {
  if (current.status === "deleted") throw notFound(current.id);
  await assertWithinRights(ctx, current);
  const after: UserRow = {
    ...current,
    status: "deleted",
    restoreStatus: current.status,
    deletedAt: at,
    updatedAt: at,
    version: current.version + 1,
  };
  return guardedChange(ctx, "user.deleted", current, after, at);
}

export async function planRestore(ctx: ServiceContext, current: UserRow, at: string): Promise<Plan> {
  if (current.status !== "deleted") {
    throw new ApiError(UserErrors.USER_NOT_DELETED, { detail: `User ${current.id} is ${current.status}.` });
  }
  await assertWithinRights(ctx, current);
  const after: UserRow = {
    ...current,
    status: current.restoreStatus ?? "active",
    restoreStatus: null,
    deletedAt: null,
    updatedAt: at,
    version: current.version + 1,
  };
  return guardedChange(ctx, "user.restored", current, after, at);
}

export async function planPurge(ctx: ServiceContext, current: UserRow, at: string): Promise<Plan> {
  await assertWithinRights(ctx, current);
  const plan = { action: "user.purged" as const, before: current, after: null };
  return {
    ...plan,
    statements: [deleteUserRow(ctx.db, current.id, current.version), await audit(ctx, plan, at, true)],
  };
}

/** An update of the row at its current version, and its audit event written only if the update matched. */
async function guardedChange(
  ctx: ServiceContext,
  action: "user.updated" | "user.deleted" | "user.restored",
  before: UserRow,
  after: UserRow,
  at: string,
): Promise<Plan> {
  const { id, createdAt, version, ...fields } = after;
  const plan = { action, before, after };
  return {
    ...plan,
    statements: [await updateUser(ctx, id, before.version, fields), await audit(ctx, plan, at, true)],
  };
}

export function notFound(id: string): ApiError {
  return new ApiError(UserErrors.USER_NOT_FOUND, { detail: `No user ${id}.` });
}

/** The unique constraints D1 names in its errors: the email's blind index, the normalised username, externalId. */
export const EMAIL_UNIQUE = "users.email_bidx";
export const USERNAME_UNIQUE = "users.username_normalized";
export const EXTERNAL_ID_UNIQUE = "users.external_id";

/** Maps a unique-index violation from D1 to the conflict it means. */
export function conflictFor(column: string | undefined): ApiError | undefined {
  if (column === EMAIL_UNIQUE) {
    return new ApiError(UserErrors.EMAIL_TAKEN, {
      detail: "A user with this email already exists (perhaps soft-deleted: restore or purge it).",
    });
  }
  if (column === USERNAME_UNIQUE) {
    return new ApiError(UserErrors.USERNAME_TAKEN, {
      detail: "A user with this username already exists (perhaps soft-deleted: restore or purge it).",
    });
  }
  if (column === EXTERNAL_ID_UNIQUE) {
    return new ApiError(UserErrors.EXTERNAL_ID_TAKEN, {
      detail: "A user with this externalId already exists (perhaps soft-deleted: restore or purge it).",
    });
  }
  return undefined;
}
