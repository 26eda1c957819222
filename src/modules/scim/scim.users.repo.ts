import { fromDriverRow } from "../../core/db/driver-rows";
import { users } from "../../core/db/tenant-schema";
import { batchWithSchema } from "../schema/schema.service";
import type { CompiledFilter } from "../search/filter.compiler";
import type { UserView } from "../users/users.list";
import { openUserRows, type UserStore } from "../users/users.pii";

/**
 * SCIM lists page by offset (RFC 7644 §3.4.2.4: 1-based `startIndex`, `count`, `totalResults`), unlike
 * /v1/users, which pages by keyset. Soft-deleted users do not exist for SCIM.
 */
export interface OffsetQuery {
  filter?: CompiledFilter | undefined;
  /** A trusted column expression (scim.filter.ts `sortColumn`). */
  orderBy: string;
  descending: boolean;
  offset: number;
  limit: number;
}

const COLUMNS = `users.id, users.email_ct, users.username, users.name, users.phone_ct, users.status, users.attributes,
  users.roles, users.mfa_totp, users.created_at, users.updated_at, users.deleted_at, users.last_login_at,
  users.email_verified_at, users.external_id, users.version`;

export async function listUsersByOffset(
  store: UserStore,
  query: OffsetQuery,
): Promise<{ rows: (UserView & { version: number })[]; total: number }> {
  const where = `users.status <> 'deleted'${query.filter ? ` AND (${query.filter.sql})` : ""}`;
  const params = query.filter?.params ?? [];
  const direction = query.descending ? "DESC" : "ASC";
  // one round trip for the page, its count and (unless this request has it) the schema that presents attributes
  const [page, counted] = await batchWithSchema(store, [
    store.db
      .prepare(
        `SELECT ${COLUMNS} FROM users WHERE ${where}
         ORDER BY ${query.orderBy} ${direction}, users.id ${direction} LIMIT ? OFFSET ?`,
      )
      .bind(...params, query.limit, query.offset),
    store.db.prepare(`SELECT count(*) AS total FROM users WHERE ${where}`).bind(...params),
  ]);
  const rows = (page?.results ?? []).map((raw) => fromDriverRow(users, raw as Record<string, unknown>));
  const opened = await openUserRows(store, rows);
  return { rows: opened, total: ((counted?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0 };
}
