import type { UserRow } from "../../core/db/tenant-schema";
import type { ChangePolicy } from "../audit/audit-changes";
import type { UserView } from "./users.list";
import type { User } from "./users.schema";

export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFC").toLowerCase();
}

export function normalizeUsername(username: string | null | undefined): string | null {
  return username ? username.normalize("NFC").toLowerCase() : null;
}

export function toUser(row: UserView): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    name: row.name,
    phone: row.phone,
    status: row.status,
    attributes: row.attributes,
    roles: row.roles,
    externalId: row.externalId,
    mfa: { totp: row.mfaTotp },
    emailVerified: row.emailVerifiedAt !== null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    deletedAt: row.deletedAt,
    lastLoginAt: row.lastLoginAt,
    lastActiveAt: row.lastActiveAt,
    loginCount: row.loginCount,
  };
}

/** What the audit trail compares; the password hash stands for the password and is never recorded. */
export function auditView(row: UserRow | null): Record<string, unknown> | null {
  if (!row) return null;
  return {
    email: row.email,
    username: row.username,
    name: row.name,
    phone: row.phone,
    status: row.status,
    attributes: row.attributes,
    roles: row.roles,
    externalId: row.externalId,
    password: row.passwordHash,
    deletedAt: row.deletedAt,
  };
}

export const USER_CHANGE_POLICY: ChangePolicy = {
  secret: ["password"],
  personal: ["email", "phone", "name", "username"],
};
