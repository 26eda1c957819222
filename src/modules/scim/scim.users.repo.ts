import type { CompiledFilter } from "../search/filter.compiler";
import { openUserRows, type UserStore } from "../users/users.pii";
import type { UserView } from "../users/users.repo";

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

interface Row {
  id: string;
  emailCt: string;
  username: string | null;
  name: string | null;
  phoneCt: string | null;
  status: UserView["status"];
  attributes: string;
  roles: string;
  mfaTotp: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  lastLoginAt: string | null;
  emailVerifiedAt: string | null;
  externalId: string | null;
  version: number;
}

const COLUMNS = `users.id, users.email_ct AS emailCt, users.username, users.name, users.phone_ct AS phoneCt,
  users.status, users.attributes, users.roles, users.mfa_totp AS mfaTotp, users.created_at AS createdAt,
  users.updated_at AS updatedAt, users.deleted_at AS deletedAt, users.last_login_at AS lastLoginAt,
  users.email_verified_at AS emailVerifiedAt, users.external_id AS externalId, users.version`;

export async function listUsersByOffset(
  store: UserStore,
  query: OffsetQuery,
): Promise<{ rows: (UserView & { version: number })[]; total: number }> {
  const where = `users.status <> 'deleted'${query.filter ? ` AND (${query.filter.sql})` : ""}`;
  const params = query.filter?.params ?? [];
  const direction = query.descending ? "DESC" : "ASC";
  const [page, counted] = await store.db.batch<Row | { total: number }>([
    store.db
      .prepare(
        `SELECT ${COLUMNS} FROM users WHERE ${where}
         ORDER BY ${query.orderBy} ${direction}, users.id ${direction} LIMIT ? OFFSET ?`,
      )
      .bind(...params, query.limit, query.offset),
    store.db.prepare(`SELECT count(*) AS total FROM users WHERE ${where}`).bind(...params),
  ]);
  const rows = (page?.results ?? []) as Row[];
  const opened = await openUserRows(
    store,
    rows.map((row) => ({
      ...row,
      attributes: JSON.parse(row.attributes) as Record<string, unknown>,
      roles: JSON.parse(row.roles) as string[],
      mfaTotp: row.mfaTotp === 1,
    })),
  );
  return { rows: opened, total: ((counted?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0 };
}
