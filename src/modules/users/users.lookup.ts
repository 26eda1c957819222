import { and, eq, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ServiceContext } from "../../core/context";
import { type UserRow, users } from "../../core/db/tenant-schema";
import { normalizeEmail, normalizeUsername } from "./users.mapping";

/**
 * The user a login names: by email when the identifier has an `@`, else by username. One indexed query;
 * deleted users are never found (a disabled one is, so the caller can refuse it like a wrong password).
 */
export async function findUserByLogin(ctx: ServiceContext, identifier: string): Promise<UserRow | undefined> {
  const match = identifier.includes("@")
    ? eq(users.emailNormalized, normalizeEmail(identifier))
    : eq(users.usernameNormalized, normalizeUsername(identifier) ?? "");
  return drizzle(ctx.db)
    .select()
    .from(users)
    .where(and(match, ne(users.status, "deleted")))
    .get();
}
