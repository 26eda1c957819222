import { describe, expect, it } from "vitest";
import { call, createTenant, createUser, type TestTenant } from "../helpers/api";
import { type RawEvent, rawEvents, verify } from "../helpers/audit";
import { tenantDatabase } from "../helpers/db";

/** A tenant with `users` user.created events in its own database, sealed by a listing. */
async function tenantWithTrail(users: number): Promise<{ tenant: TestTenant; db: D1Database; rows: RawEvent[] }> {
  const tenant = await createTenant({ name: "Audited" });
  for (let i = 0; i < users; i++) await createUser(tenant);
  expect((await call("GET", "/v1/audit-events", { token: tenant.key })).status).toBe(200);
  const db = await tenantDatabase(tenant.id);
  const rows = await rawEvents(db);
  expect(rows).toHaveLength(users);
  expect(rows.every((r) => r.hash !== null)).toBe(true);
  return { tenant, db, rows };
}

describe("tamper evidence", () => {
  it("the triggers keep the trail append-only", async () => {
    const { db, rows } = await tenantWithTrail(1);
    const first = rows[0] as RawEvent;
    await expect(
      db.prepare("UPDATE audit_events SET changes = '{}' WHERE seq = ?").bind(first.seq).run(),
    ).rejects.toThrow(/append-only/);
    await expect(db.prepare("UPDATE audit_events SET hash = NULL WHERE seq = ?").bind(first.seq).run()).rejects.toThrow(
      /append-only/,
    );
    await expect(db.prepare("DELETE FROM audit_events WHERE seq = ?").bind(first.seq).run()).rejects.toThrow(
      /append-only/,
    );
    expect(await rawEvents(db)).toEqual(rows);
  });

  it("an edited event (triggers dropped) breaks the chain at that event", async () => {
    const { tenant, db, rows } = await tenantWithTrail(4);
    expect(await verify(tenant.key)).toEqual({ intact: true, checked: 4 });

    const target = rows[1] as RawEvent;
    await db.prepare("DROP TRIGGER audit_events_seal_only").run();
    const forged = JSON.stringify({ email: { from: null, to: "someone-else@example.com" } });
    await db.prepare("UPDATE audit_events SET changes = ? WHERE seq = ?").bind(forged, target.seq).run();

    expect(await verify(tenant.key)).toEqual({ intact: false, checked: 2, firstBrokenId: target.id });
  });

  it("a forged hash breaks the chain at that event", async () => {
    const { tenant, db, rows } = await tenantWithTrail(3);
    const target = rows[2] as RawEvent;
    await db.prepare("DROP TRIGGER audit_events_seal_only").run();
    await db.prepare("UPDATE audit_events SET hash = ? WHERE seq = ?").bind("0".repeat(64), target.seq).run();
    expect(await verify(tenant.key)).toEqual({ intact: false, checked: 3, firstBrokenId: target.id });
  });

  it("a deleted middle event (trigger dropped) breaks the chain at the next one", async () => {
    const { tenant, db, rows } = await tenantWithTrail(4);
    await db.prepare("DROP TRIGGER audit_events_no_delete").run();
    await db
      .prepare("DELETE FROM audit_events WHERE seq = ?")
      .bind((rows[1] as RawEvent).seq)
      .run();
    expect(await verify(tenant.key)).toEqual({ intact: false, checked: 2, firstBrokenId: (rows[2] as RawEvent).id });
  });

  it("an event copied in from another tenant's trail does not verify (the MAC key is per tenant)", async () => {
    const source = await tenantWithTrail(1);
    const target = await tenantWithTrail(1);
    const { results } = await source.db.prepare("SELECT * FROM audit_events").all<Record<string, unknown>>();
    const copied = results[0] as Record<string, unknown>;
    // appended as the next, still unsealed, event of the target trail: sealing will chain it, the MAC won't match
    await target.db
      .prepare(
        `INSERT INTO audit_events (id, action, actor_type, actor_id, resource_type, resource_id, changes, request_id,
           ip, user_agent, created_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        "aud_copied",
        copied.action,
        copied.actor_type,
        copied.actor_id,
        copied.resource_type,
        copied.resource_id,
        copied.changes,
        copied.request_id,
        copied.ip,
        copied.user_agent,
        copied.created_at,
        copied.mac,
      )
      .run();
    expect(await verify(target.tenant.key)).toEqual({ intact: false, checked: 2, firstBrokenId: "aud_copied" });
  });
});
