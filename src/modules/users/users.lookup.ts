import { and, eq, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ServiceContext } from "../../core/context";
import { type UserRow, users } from "../../core/db/tenant-schema";
import { normalizeUsername } from "./users.mapping";
import { emailIndex, openUserRow } from "./users.pii";

/**
 * The user a login names: by email (through its blind index) when the identifier has an `@`, else by username.
 * One indexed query; deleted users are never found (a disabled one is, so the caller can refuse it like a wrong
 * password).
 */
export async function findUserByLogin(ctx: ServiceContext, identifier: string): Promise<UserRow | undefined> {
  const match = identifier.includes("@")
    ? eq(users.emailBidx, await emailIndex(ctx, identifier))
    : eq(users.usernameNormalized, normalizeUsername(identifier) ?? "");
  const row = await drizzle(ctx.db)
    .select()
    .from(users)
    .where(and(match, ne(users.status, "deleted")))
    .get();
  return row ? openUserRow(ctx, row) : undefined;
}
