import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { insertAudit } from "../../src/modules/audit/audit.repo";
import { auditKey, macOf } from "../../src/modules/audit/audit-chain";
import { call, createTenant, createUser, json, type TestTenant } from "../helpers/api";
import { type AuditEvent, verify } from "../helpers/audit";
import { tenantDatabase } from "../helpers/db";
import { setPlan } from "./support";

const DAY = 24 * 60 * 60 * 1000;

/** An event dated `daysAgo`, written as the worker writes one (MAC'd under the tenant's audit key), so the chain holds. */
async function oldEvent(tenant: TestTenant, daysAgo: number): Promise<string> {
  const content = {
    id: `aud_OLD${String(daysAgo).padStart(23, "0")}`,
    action: "user.updated",
    actorType: "api_key",
    actorId: tenant.keyId,
    resourceType: "user",
    resourceId: null,
    changes: "{}",
    requestId: null,
    ip: null,
    userAgent: null,
    createdAt: new Date(Date.now() - daysAgo * DAY).toISOString(),
  };
  const record = { ...content, mac: macOf(await auditKey(env.MASTER_KEY, tenant.id), content) };
  await insertAudit(await tenantDatabase(tenant.id), record, false).run();
  return record.id;
}

async function listedIds(tenant: TestTenant, query = ""): Promise<string[]> {
  const response = await call("GET", `/v1/audit-events?limit=1000${query}`, { token: tenant.key });
  expect(response.status).toBe(200);
  return (await json<{ data: AuditEvent[] }>(response)).data.map((e) => e.id);
}

describe("auditRetentionDays", () => {
  it("the audit API lists only the plan's window; older events stay stored and verified", async () => {
    const tenant = await createTenant({ name: "Retention", plan: "pro" });
    await createUser(tenant);
    const hundredDays = await oldEvent(tenant, 100);
    const fortyDays = await oldEvent(tenant, 40);

    // pro: 90 days
    const onPro = await listedIds(tenant);
    expect(onPro).toContain(fortyDays);
    expect(onPro).not.toContain(hundredDays);
    expect(onPro).toHaveLength(2); // user.created and the 40-day event
    // asking for more does not reach further back; asking for less narrows it
    expect(await listedIds(tenant, `&since=${new Date(Date.now() - 200 * DAY).toISOString()}`)).toEqual(onPro);
    expect(await listedIds(tenant, `&since=${new Date(Date.now() - 50 * DAY).toISOString()}`)).toEqual(onPro);
    expect(await listedIds(tenant, `&since=${new Date(Date.now() - 10 * DAY).toISOString()}`)).not.toContain(fortyDays);
    // verification walks the whole chain, the events outside the window too
    const report = await verify(tenant.key);
    expect(report.intact).toBe(true);
    expect(report.checked).toBe(3);

    // enterprise: 365 days
    await setPlan(tenant, "enterprise");
    expect(await listedIds(tenant)).toEqual(expect.arrayContaining([hundredDays, fortyDays]));
  });
});
