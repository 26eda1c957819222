import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, createTenant, createUser } from "../helpers/api";
import { rawEvents, verify } from "../helpers/audit";
import { count, runCron, tenantDatabase } from "../helpers/db";

describe("sealing by the minute cron", () => {
  it("seals rows nobody listed, in every tenant database and the control database", async () => {
    const a = await createTenant({ name: "Cron A" });
    const b = await createTenant({ name: "Cron B" });
    for (const tenant of [a, b, a]) await createUser(tenant);
    const dbs = [env.CONTROL_DB, await tenantDatabase(a.id), await tenantDatabase(b.id)];
    for (const db of dbs) {
      const rows = await rawEvents(db);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.hash === null)).toBe(true);
    }

    await runCron("17 3 * * *"); // the daily job does not seal
    expect((await rawEvents(dbs[1] as D1Database)).every((r) => r.hash === null)).toBe(true);

    await runCron("* * * * *");
    for (const db of dbs) {
      const rows = await rawEvents(db);
      expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash ?? ""))).toBe(true);
      expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    }
    // the cron's seals are the ones verification expects
    expect(await verify(a.key)).toEqual({ intact: true, checked: 2 });
    expect(await verify(ADMIN_TOKEN)).toMatchObject({ intact: true });

    // sealing again changes nothing (hash is written once)
    const before = await rawEvents(dbs[1] as D1Database);
    await runCron("* * * * *");
    expect(await rawEvents(dbs[1] as D1Database)).toEqual(before);
  });

  it("one tenant's broken database does not stop the others from being sealed; the run still fails", async () => {
    const broken = await createTenant({ name: "Broken trail" }); // sorts before the next one (ids are time-ordered)
    const healthy = await createTenant({ name: "Healthy trail" });
    await createUser(healthy);
    await (await tenantDatabase(broken.id)).prepare("DROP TABLE audit_events").run();
    const db = await tenantDatabase(healthy.id);
    expect((await rawEvents(db)).map((r) => r.hash)).toEqual([null]);

    await expect(runCron("* * * * *")).rejects.toThrow(/seal audit trail failed for 1 database/);
    expect((await rawEvents(db)).every((r) => r.hash !== null)).toBe(true);
    expect((await rawEvents(env.CONTROL_DB)).every((r) => r.hash !== null)).toBe(true);
  });
});

describe("the daily job", () => {
  it("drops expired Idempotency-Key records everywhere and keeps live ones", async () => {
    const broken = await createTenant({ name: "Broken purge" });
    const tenant = await createTenant({ name: "Idempotent" });
    const db = await tenantDatabase(tenant.id);
    const insert =
      "INSERT INTO idempotency_keys (key_hash, request_hash, state, created_at, expires_at) VALUES (?, 'r', 'done', ?, ?)";
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    for (const target of [env.CONTROL_DB, db]) {
      await target.batch([
        target.prepare(insert).bind("expired", past, past),
        target.prepare(insert).bind("live", past, future),
      ]);
    }
    // a tenant whose database is broken, created first so it is visited first: the purge carries on past it
    await (await tenantDatabase(broken.id)).prepare("DROP TABLE idempotency_keys").run();
    await expect(runCron("17 3 * * *")).rejects.toThrow(/purge idempotency keys failed/);
    for (const target of [env.CONTROL_DB, db]) {
      expect(await count(target, "idempotency_keys", "key_hash IN ('expired', 'live')")).toBe(1);
      expect(await count(target, "idempotency_keys", "key_hash = 'live'")).toBe(1);
    }
  });
});
