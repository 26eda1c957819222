import { env } from "cloudflare:test";
import { openEventSecret } from "../../src/core/events/outbox";
import type { TestTenant } from "../helpers/api";
import { tenantDatabase } from "../helpers/db";

export interface OutboxRow {
  id: string;
  type: string;
  subject_id: string | null;
  data: string;
  secret_sealed: string | null;
  created_at: string;
}

/** The tenant's outbox events of a type about a user, oldest first. */
export async function eventsOf(tenant: TestTenant, type: string, userId: string): Promise<OutboxRow[]> {
  const { results } = await (await tenantDatabase(tenant.id))
    .prepare("SELECT * FROM outbox_events WHERE type = ? AND subject_id = ? ORDER BY created_at, id")
    .bind(type, userId)
    .all<OutboxRow>();
  return results;
}

/** The token a mail would carry: the newest such event's sealed secret, opened as the dispatcher will. */
export async function mailedToken(tenant: TestTenant, type: string, userId: string): Promise<string> {
  const event = (await eventsOf(tenant, type, userId)).at(-1);
  if (!event?.secret_sealed) throw new Error(`no ${type} event with a secret for ${userId}`);
  const secret = await openEventSecret(env, event.id, event.secret_sealed);
  if (!secret.token) throw new Error("the event's secret holds no token");
  return secret.token;
}

export interface TokenRow {
  token_hash: string;
  user_id: string;
  purpose: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export async function tokenRows(tenant: TestTenant, userId: string): Promise<TokenRow[]> {
  const { results } = await (await tenantDatabase(tenant.id))
    .prepare("SELECT * FROM user_tokens WHERE user_id = ? ORDER BY created_at")
    .bind(userId)
    .all<TokenRow>();
  return results;
}
