import { credentialGuard } from "../../core/auth/guard";
import { USER_TOKEN_SECONDS } from "./oauth.config";

/** A login session: a refresh-token family, whose access tokens carry its id as `sid`. */
export interface Session {
  family_id: string;
  user_id: string;
  /** When the family's refresh tokens end (ISO): no access token of it outlives this by more than its lifetime. */
  expires_at: string;
}

const PARALLEL = 25;

/**
 * Stops every access token of these sessions at once: each user's guard refuses the `sid` until the last
 * access token the family could have issued has expired.
 */
export async function revokeSessions(env: Env, tenantId: string, sessions: readonly Session[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += PARALLEL) {
    await Promise.all(
      sessions
        .slice(i, i + PARALLEL)
        .map((s) =>
          credentialGuard(env, `user:${tenantId}:${s.user_id}`).revokeSession(
            s.family_id,
            Date.parse(s.expires_at) + USER_TOKEN_SECONDS * 1000,
          ),
        ),
    );
  }
}
