import { expect } from "vitest";
import { call, json } from "./api";

/** An audit event as GET /v1/audit-events returns it. */
export interface AuditEvent {
  id: string;
  action: string;
  actor: { type: string; id: string | null };
  resource: { type: string; id: string | null };
  changes: Record<string, { from: unknown; to: unknown }>;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  hash: string | null;
}

/** An audit row as stored. */
export interface RawEvent {
  seq: number;
  id: string;
  action: string;
  changes: string;
  hash: string | null;
}

export async function rawEvents(db: D1Database): Promise<RawEvent[]> {
  const { results } = await db
    .prepare("SELECT seq, id, action, changes, hash FROM audit_events ORDER BY seq")
    .all<RawEvent>();
  return results;
}

export async function verify(token: string) {
  const response = await call("GET", "/v1/audit-events/verify", { token });
  expect(response.status).toBe(200);
  return json<{ intact: boolean; checked: number; firstBrokenId?: string }>(response);
}
