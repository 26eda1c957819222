import { and, eq, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ServiceContext } from "../../core/context";
import { users } from "../../core/db/tenant-schema";
import { normalizeUsername } from "./users.mapping";
import { emailIndex } from "./users.pii";

/** What signing in needs of a user: no personal data, so nothing is decrypted on the login path. */
export interface LoginCandidate {
  id: string;
  status: "active" | "disabled" | "deleted";
  passwordHash: string | null;
  roles: string[];
  mfaTotp: boolean;
}

/**
 * The user a login (or a password reset) names: by email (through its blind index) when the identifier has an
 * `@`, else by username. One indexed query; deleted users are never found (a disabled one is, so the caller can
 * refuse it like a wrong password).
 */
export async function findUserByLogin(ctx: ServiceContext, identifier: string): Promise<LoginCandidate | undefined> {
  const match = identifier.includes("@")
    ? eq(users.emailBidx, await emailIndex(ctx, identifier))
    : eq(users.usernameNormalized, normalizeUsername(identifier) ?? "");
  return drizzle(ctx.db)
    .select({
      id: users.id,
      status: users.status,
      passwordHash: users.passwordHash,
      roles: users.roles,
      mfaTotp: users.mfaTotp,
    })
    .from(users)
    .where(and(match, ne(users.status, "deleted")))
    .get();
}
