import { generateApiKeySecret, maskedTail } from "../../core/auth/api-key-format";
import type { Grants } from "../../core/auth/grants";
import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import { sha256Hex } from "../../core/crypto/hash";
import { controlDb } from "../../core/db/databases";
import { assertPreviousChanged, clearAssertions, isAssertionFailure } from "../../core/db/statements";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { validateAssignments } from "../roles/roles.service";
import { LATEST_VERSION } from "../versions/versions.registry";
import { ApiKeyErrors } from "./api-keys.errors";
import {
  type ApiKeyView,
  claimVersion,
  deleteIndexEntry,
  findApiKey,
  findApiKeyWithSecrets,
  insertApiKey,
  insertApiKeySecret,
  insertIndexEntry,
  listApiKeys as listApiKeyRows,
  retireSecrets,
  revokeApiKey as revokeApiKeyRow,
} from "./api-keys.repo";
import type { ApiKey, CreateApiKeyInput } from "./api-keys.schema";

/** A secret about to be stored: the plaintext exists only here and in the response that shows it once. */
export interface NewSecret {
  secret: string;
  secretHash: string;
  tail: string;
  createdAt: string;
}

export interface NewApiKey extends NewSecret {
  id: string;
  name: string;
  roles: string[];
  expiresAt: string | null;
  apiVersion: string;
}

export function toApiKey(row: ApiKeyView): ApiKey {
  const { id, name, roles, createdAt, expiresAt, lastUsedAt, revokedAt, apiVersion } = row;
  return { id, name, roles, maskedSecret: row.tail ?? "", createdAt, expiresAt, lastUsedAt, revokedAt, apiVersion };
}

async function newSecret(): Promise<NewSecret> {
  const secret = generateApiKeySecret();
  return { secret, secretHash: await sha256Hex(secret), tail: maskedTail(secret), createdAt: new Date().toISOString() };
}

/** A new key, pinned to the latest API version unless told otherwise. */
export async function newApiKey(input: {
  name: string;
  roles: readonly string[];
  expiresAt: string | null;
  apiVersion?: string | undefined;
}): Promise<NewApiKey> {
  return {
    id: newId("key"),
    ...input,
    roles: [...new Set(input.roles)],
    apiVersion: input.apiVersion ?? LATEST_VERSION,
    ...(await newSecret()),
  };
}

/** The control-database row that lets authentication find the key's tenant from a secret's hash. */
export function indexEntryStatement(control: D1Database, keyId: string, secret: NewSecret, tenantId: string) {
  return insertIndexEntry(control, {
    secretHash: secret.secretHash,
    keyId,
    tenantId,
    createdAt: secret.createdAt,
  });
}

/**
 * The tenant-database statements that store a new key and its secret's hash, with the key's event in the
 * tenant's trail (one batch). `audited: false` is for the first key, minted by the platform with the tenant
 * and recorded in the platform's trail beside `tenant.created`: a new tenant's own trail starts empty.
 */
export async function storeKeyStatements(
  ctx: ServiceContext,
  key: NewApiKey,
  { audited = true } = {},
): Promise<D1PreparedStatement[]> {
  const { id, name, roles, expiresAt, createdAt, apiVersion } = key;
  const statements = [
    insertApiKey(ctx.db, { id, name, roles, expiresAt, createdAt, version: 1, apiVersion }),
    insertApiKeySecret(ctx.db, { secretHash: key.secretHash, keyId: id, tail: key.tail, createdAt }),
  ];
  if (!audited) return statements;
  const changes = diffChanges(null, { name, roles, expiresAt, maskedSecret: key.tail, apiVersion });
  const event = { action: "api_key.created", resource: { type: "api_key", id }, changes };
  return [...statements, await auditStatement(ctx, event, { at: createdAt })];
}

async function validateNewKey(ctx: ServiceContext, holder: Grants, input: CreateApiKeyInput): Promise<string | null> {
  const { errors, beyond } = await validateAssignments(ctx, input.roles, { holder, unknownRoles: "refuse" });
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    errors.push({ field: "expiresAt", code: "in_past", detail: "An expiry must lie in the future." });
  }
  if (errors.length > 0) throw validationError(errors, "body");
  refuseBeyond(beyond);
  return expiresAt?.toISOString() ?? null;
}

/** A caller may hand out (or take over, by rotating) only what it holds itself: no credential is a step up. */
function refuseBeyond(beyond: readonly string[]): void {
  if (beyond.length > 0) {
    throw new ApiError(ApiKeyErrors.API_KEY_ROLES_NOT_HELD, {
      detail: `This credential lacks permissions the role(s) ${beyond.join(", ")} would grant.`,
      extensions: { roles: beyond },
    });
  }
}

/**
 * The index entry goes in first (control database), then the tenant batch; if that batch fails, the entry is
 * deleted again. Until the batch commits, the entry authenticates nobody: its key row does not exist yet.
 */
export async function createApiKey(ctx: ServiceContext, holder: Grants, input: CreateApiKeyInput) {
  const expiresAt = await validateNewKey(ctx, holder, input);
  const key = await newApiKey({ name: input.name, roles: input.roles, expiresAt, apiVersion: input.apiVersion });
  const control = await controlDb(ctx.env);
  await indexEntryStatement(control, key.id, key, tenantIdOf(ctx)).run();
  try {
    await ctx.db.batch(await storeKeyStatements(ctx, key));
  } catch (error) {
    await deleteIndexEntry(control, key.secretHash).run();
    throw error;
  }
  const { id, name, roles, createdAt, tail, apiVersion } = key;
  const view: ApiKeyView = {
    id,
    name,
    roles,
    createdAt,
    expiresAt,
    apiVersion,
    tail,
    lastUsedAt: null,
    revokedAt: null,
    version: 1,
  };
  return { key: { ...toApiKey(view), secret: key.secret }, etag: etagOf(1) };
}

export async function getApiKey(ctx: ServiceContext, id: string): Promise<ApiKeyView> {
  const row = await findApiKey(ctx.db, id);
  if (!row) throw notFound(id);
  return row;
}

export async function listApiKeys(ctx: ServiceContext, query: { limit: number; cursor?: string | undefined }) {
  const position = query.cursor ? decodeCursor("api-keys", query.cursor, ["string", "string"]) : null;
  const after = position ? { createdAt: position[0], id: position[1] } : null;
  const rows = await listApiKeyRows(ctx.db, after, query.limit + 1);
  return pageOf(rows, query.limit, "api-keys", (row) => [row.createdAt, row.id], toApiKey);
}

/**
 * A new secret; the old one(s) stop at the end of the grace period. D1 first (the new secret must exist before
 * the old stops), then the key's Durable Object learns when each old secret stops, which every request checks.
 */
export async function rotateApiKey(ctx: ServiceContext, holder: Grants, id: string, gracePeriodSeconds: number) {
  const found = await findApiKeyWithSecrets(ctx.db, id);
  if (!found) throw notFound(id);
  const { key: current, secrets } = found;
  if (current.revokedAt) throw revoked(id);
  // rotating hands the caller a working secret of this key: it must hold what the key can do
  refuseBeyond((await validateAssignments(ctx, current.roles, { holder, unknownRoles: "allow" })).beyond);

  const next = await newSecret();
  const notAfter = new Date(Date.parse(next.createdAt) + gracePeriodSeconds * 1000).toISOString();
  // the secrets this rotation stops (or stops sooner): their Durable Object entries are written below
  const retiring = secrets.filter((s) => s.retiresAt === null || s.retiresAt > notAfter);
  const control = await controlDb(ctx.env);
  await indexEntryStatement(control, id, next, tenantIdOf(ctx)).run();
  try {
    await ctx.db.batch([
      claimVersion(ctx.db, id, current.version),
      assertPreviousChanged(ctx.db),
      retireSecrets(ctx.db, id, notAfter),
      insertApiKeySecret(ctx.db, {
        secretHash: next.secretHash,
        keyId: id,
        tail: next.tail,
        createdAt: next.createdAt,
      }),
      await auditStatement(
        ctx,
        {
          action: "api_key.rotated",
          resource: { type: "api_key", id },
          changes: {
            maskedSecret: { from: current.tail, to: next.tail },
            previousSecretRetiresAt: { from: null, to: notAfter },
          },
        },
        { at: next.createdAt },
      ),
      clearAssertions(ctx.db),
    ]);
  } catch (error) {
    await deleteIndexEntry(control, next.secretHash).run();
    if (isAssertionFailure(error)) {
      throw new ApiError(CoreErrors.CONFLICT, { detail: `API key ${id} changed meanwhile (revoked or rotated).` });
    }
    throw error;
  }
  const guard = credentialGuard(ctx.env, `key:${id}`);
  await Promise.all(retiring.map((s) => guard.retireSecret(s.secretHash, Date.parse(notAfter))));
  const view: ApiKeyView = { ...current, tail: next.tail, version: current.version + 1 };
  return { key: { ...toApiKey(view), secret: next.secret }, etag: etagOf(view.version) };
}

/**
 * Revokes the key: its Durable Object first, so that it is refused everywhere at once even if the D1 write then
 * fails (fail closed); a repeated DELETE is answered the same and changes nothing.
 */
export async function revokeApiKey(ctx: ServiceContext, id: string, ifMatch: string | undefined): Promise<void> {
  const current = await getApiKey(ctx, id);
  assertIfMatch(ifMatch, etagOf(current.version));
  if (current.revokedAt) return;
  await credentialGuard(ctx.env, `key:${id}`).revoke();
  const at = new Date().toISOString();
  const [update] = await ctx.db.batch([
    revokeApiKeyRow(ctx.db, id, at, ifMatch ? current.version : undefined),
    await auditStatement(
      ctx,
      { action: "api_key.revoked", resource: { type: "api_key", id }, changes: { revokedAt: { from: null, to: at } } },
      { onlyIfPreviousChanged: true, at },
    ),
  ]);
  if (!update?.meta.changes && ifMatch) {
    throw new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: "The API key changed meanwhile; read it again." });
  }
}

function tenantIdOf(ctx: ServiceContext): string {
  if (!ctx.tenant) throw new Error("API keys belong to a tenant: a tenant service context is required");
  return ctx.tenant.id;
}

function notFound(id: string): ApiError {
  return new ApiError(ApiKeyErrors.API_KEY_NOT_FOUND, { detail: `No API key ${id}.` });
}

function revoked(id: string): ApiError {
  return new ApiError(ApiKeyErrors.API_KEY_REVOKED, { detail: `API key ${id} is revoked; create a new one.` });
}
