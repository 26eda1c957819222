import type { Grants } from "../../core/auth/grants";
import { credentialGuard } from "../../core/auth/guard";
import type { ServiceContext } from "../../core/context";
import { randomBase62 } from "../../core/crypto/encoding";
import { sha256Hex } from "../../core/crypto/hash";
import { controlDb } from "../../core/db/databases";
import { ApiError } from "../../core/errors";
import { decodeCursor, pageOf } from "../../core/http/pagination";
import { validationError } from "../../core/http/validation";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { validateAssignments } from "../roles/roles.service";
import { forgetClient } from "./client-auth";
import {
  type ClientRow,
  deleteIndexEntry,
  findClientById,
  insertClient,
  insertIndexEntry,
  listClients as listClientRows,
  markClientDeleted,
} from "./clients.repo";
import type { CreateClientInput, GrantType, OAuthClientView } from "./clients.schema";
import { OAuthClientErrors } from "./oauth.errors";
import { liveFamiliesOfClient, revokeFamiliesOfClient } from "./refresh-tokens.repo";
import { revokeSessions } from "./sessions";

const CLIENT_ID_PREFIX = "uom_ci_";
const CLIENT_SECRET_PREFIX = "uom_cs_";

export function toClientView(row: ClientRow): OAuthClientView {
  const { id, clientId, name, roles, createdAt } = row;
  return { id, clientId, name, grantTypes: row.grantTypes as GrantType[], roles, createdAt };
}

function tenantIdOf(ctx: ServiceContext): string {
  if (!ctx.tenant) throw new Error("OAuth clients belong to a tenant");
  return ctx.tenant.id;
}

function notFound(id: string): ApiError {
  return new ApiError(OAuthClientErrors.OAUTH_CLIENT_NOT_FOUND, { detail: `No OAuth client ${id}.` });
}

/** Known roles only (400), and only roles the caller holds (403): a client is never a step up. */
async function assertGrantableRoles(ctx: ServiceContext, holder: Grants, roles: readonly string[]): Promise<void> {
  const { errors, beyond } = await validateAssignments(ctx, roles, { holder, unknownRoles: "refuse" });
  if (errors.length > 0) throw validationError(errors, "body");
  if (beyond.length > 0) {
    throw new ApiError(OAuthClientErrors.OAUTH_CLIENT_ROLES_NOT_HELD, {
      detail: `This credential lacks permissions the role(s) ${beyond.join(", ")} would grant.`,
      extensions: { roles: beyond },
    });
  }
}

/**
 * A confidential client with a high-entropy secret (256 bits), shown once and stored as its SHA-256. The
 * index entry (control database) goes in first, then the tenant batch (client + audit); if the batch fails the
 * entry is deleted again. Until the batch commits, the entry authenticates nobody: the client row is missing.
 */
export async function createClient(ctx: ServiceContext, holder: Grants, input: CreateClientInput) {
  await assertGrantableRoles(ctx, holder, input.roles);
  const tenantId = tenantIdOf(ctx);
  const clientSecret = `${CLIENT_SECRET_PREFIX}${randomBase62(43)}`;
  const row: ClientRow = {
    id: newId("cli"),
    clientId: `${CLIENT_ID_PREFIX}${randomBase62(22)}`,
    name: input.name,
    secretHash: await sha256Hex(clientSecret),
    grantTypes: input.grantTypes,
    roles: input.roles,
    createdAt: new Date().toISOString(),
    deletedAt: null,
  };
  const control = await controlDb(ctx.env);
  await insertIndexEntry(control, { clientId: row.clientId, tenantId, createdAt: row.createdAt }).run();
  try {
    await ctx.db.batch([
      insertClient(ctx.db, row),
      await auditStatement(
        ctx,
        {
          action: "oauth_client.created",
          resource: { type: "oauth_client", id: row.id },
          changes: diffChanges(null, {
            name: row.name,
            clientId: row.clientId,
            grantTypes: row.grantTypes,
            roles: row.roles,
            clientSecret: "[redacted]",
          }),
        },
        { at: row.createdAt },
      ),
    ]);
  } catch (error) {
    await deleteIndexEntry(control, row.clientId).run();
    throw error;
  }
  return { ...toClientView(row), clientSecret };
}

export async function listClients(ctx: ServiceContext, query: { limit: number; cursor?: string | undefined }) {
  const position = query.cursor ? decodeCursor("oauth-clients", query.cursor, ["string", "string"]) : null;
  const after = position ? { createdAt: position[0], id: position[1] } : null;
  const rows = await listClientRows(ctx.db, after, query.limit + 1);
  return pageOf(rows, query.limit, "oauth-clients", (row) => [row.createdAt, row.id], toClientView);
}

/**
 * Deletes a client so that it and every token it obtained stop at once: its guard is revoked FIRST (fail
 * closed: its own tokens and the client itself are refused from then on, whatever any isolate caches), the
 * sessions (refresh-token families) of its end users are revoked on their guards, then D1 records it all.
 */
export async function deleteClient(ctx: ServiceContext, id: string): Promise<void> {
  const row = await findClientById(ctx.db, id);
  if (!row) throw notFound(id);
  const at = new Date().toISOString();
  await credentialGuard(ctx.env, `client:${row.id}`).revoke();
  await revokeSessions(ctx.env, tenantIdOf(ctx), await liveFamiliesOfClient(ctx.db, row.id, at));
  const [deleted] = await ctx.db.batch([
    markClientDeleted(ctx.db, row.id, at),
    await auditStatement(
      ctx,
      {
        action: "oauth_client.deleted",
        resource: { type: "oauth_client", id: row.id },
        changes: diffChanges({ name: row.name, clientId: row.clientId }, null),
      },
      { at, onlyIfPreviousChanged: true },
    ),
    revokeFamiliesOfClient(ctx.db, row.id, at),
  ]);
  if (deleted?.meta.changes === 0) throw notFound(id);
  await deleteIndexEntry(await controlDb(ctx.env), row.clientId).run();
  forgetClient(row.clientId);
}
