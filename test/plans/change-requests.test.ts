import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createTenant, expectProblem, json } from "../helpers/api";
import { type ChangeRequest, planOf, setPlan } from "./support";

interface Page {
  data: ChangeRequest[];
  nextCursor: string | null;
}

async function ask(token: string, body: Record<string, unknown>) {
  return call("POST", "/v1/plan/change-requests", { token, body });
}

async function platformEvents(resourceId: string) {
  const { results } = await env.CONTROL_DB.prepare(
    "SELECT action, actor_type, changes FROM audit_events WHERE resource_id = ? ORDER BY seq",
  )
    .bind(resourceId)
    .all<{ action: string; actor_type: string; changes: string }>();
  return results;
}

describe("plan change requests", () => {
  it("a tenant asks for another plan; the admin applies it with PATCH /v1/tenants/{id}, which marks it applied", async () => {
    const tenant = await createTenant({ name: "Upgrader", plan: "free" });
    const created = await ask(tenant.key, { plan: "pro", note: "  We grow.  " });
    expect(created.status).toBe(201);
    const request = await json<ChangeRequest>(created);
    expect(request).toMatchObject({
      tenantId: tenant.id,
      fromPlan: "free",
      toPlan: "pro",
      note: "We grow.",
      status: "pending",
      resolvedAt: null,
    });
    expect(request.id).toMatch(/^pcr_[0-9A-Z]{26}$/);
    expect((await planOf(tenant)).pendingChangeRequest).toEqual(request);
    // recorded with its audit event in the platform trail (the tenant's key as actor)
    expect(await platformEvents(request.id)).toEqual([
      expect.objectContaining({ action: "plan.change_requested", actor_type: "api_key" }),
    ]);

    // the admin sees pending requests of every tenant, or of one
    const pending = await json<Page>(
      await call("GET", `/v1/plan/change-requests?status=pending&tenantId=${tenant.id}`, { token: ADMIN_TOKEN }),
    );
    expect(pending.data).toEqual([request]);
    const all = await json<Page>(await call("GET", "/v1/plan/change-requests?status=pending", { token: ADMIN_TOKEN }));
    expect(all.data.map((r) => r.id)).toContain(request.id);

    await setPlan(tenant, "pro");
    const [applied] = (await json<Page>(await call("GET", "/v1/plan/change-requests", { token: tenant.key }))).data;
    expect(applied).toMatchObject({ id: request.id, status: "applied", resolvedAt: expect.any(String) });
    const overview = await planOf(tenant);
    expect(overview.plan).toBe("pro");
    expect(overview.pendingChangeRequest).toBeNull();
  });

  it("a plan change to another plan than the one asked for leaves the request pending", async () => {
    const tenant = await createTenant({ name: "Elsewhere", plan: "free" });
    const request = await json<ChangeRequest>(await ask(tenant.key, { plan: "enterprise" }));
    await setPlan(tenant, "pro");
    expect((await planOf(tenant)).pendingChangeRequest).toMatchObject({ id: request.id, status: "pending" });
    // renaming the tenant does not touch it either
    await call("PATCH", `/v1/tenants/${tenant.id}`, { token: ADMIN_TOKEN, body: { name: "Renamed" } });
    expect((await planOf(tenant)).pendingChangeRequest?.id).toBe(request.id);
    await setPlan(tenant, "enterprise");
    expect((await planOf(tenant)).pendingChangeRequest).toBeNull();
  });

  it("refuses the current plan (409 PLAN_UNCHANGED) and a second pending request (409 CHANGE_REQUEST_PENDING)", async () => {
    const tenant = await createTenant({ name: "Asker", plan: "pro" });
    const same = await expectProblem(await ask(tenant.key, { plan: "pro" }), 409, "PLAN_UNCHANGED");
    expect(same).toMatchObject({ plan: "pro" });

    const first = await json<ChangeRequest>(await ask(tenant.key, { plan: "free" }));
    const second = await expectProblem(await ask(tenant.key, { plan: "enterprise" }), 409, "CHANGE_REQUEST_PENDING");
    expect(second).toMatchObject({ pendingRequestId: first.id });
    expect(second.detail).toContain(first.id);

    // concurrent asks: one is recorded, the others are refused
    await call("DELETE", `/v1/plan/change-requests/${first.id}`, { token: tenant.key });
    const racing = await Promise.all([1, 2, 3].map(() => ask(tenant.key, { plan: "enterprise" })));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const { results } = await env.CONTROL_DB.prepare(
      "SELECT count(*) AS n FROM plan_change_requests WHERE tenant_id = ? AND status = 'pending'",
    )
      .bind(tenant.id)
      .all<{ n: number }>();
    expect(results[0]?.n).toBe(1);

    // bad bodies
    for (const body of [{}, { plan: "gold" }, { plan: "free", extra: 1 }, { plan: "free", note: "x".repeat(1001) }]) {
      await expectProblem(await ask(tenant.key, body), 400, "VALIDATION_FAILED");
    }
  });

  it("cancel: the tenant withdraws its own pending request, the admin declines any; only pending ones", async () => {
    const tenant = await createTenant({ name: "Canceller", plan: "free" });
    const other = await createTenant({ name: "Other", plan: "free" });
    const request = await json<ChangeRequest>(await ask(tenant.key, { plan: "pro" }));

    // another tenant cannot see or cancel it
    await expectProblem(
      await call("DELETE", `/v1/plan/change-requests/${request.id}`, { token: other.key }),
      404,
      "CHANGE_REQUEST_NOT_FOUND",
    );
    const othersView = await json<Page>(
      await call("GET", `/v1/plan/change-requests?tenantId=${tenant.id}`, { token: other.key }),
    );
    expect(othersView).toEqual({ data: [], nextCursor: null });

    const cancelled = await call("DELETE", `/v1/plan/change-requests/${request.id}`, { token: tenant.key });
    expect(cancelled.status).toBe(200);
    expect(await json(cancelled)).toMatchObject({
      id: request.id,
      status: "cancelled",
      resolvedAt: expect.any(String),
    });
    await expectProblem(
      await call("DELETE", `/v1/plan/change-requests/${request.id}`, { token: tenant.key }),
      409,
      "CHANGE_REQUEST_NOT_PENDING",
    );
    await expectProblem(
      await call("DELETE", "/v1/plan/change-requests/pcr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", { token: tenant.key }),
      404,
      "CHANGE_REQUEST_NOT_FOUND",
    );
    // a cancelled request is not applied by a later plan change
    await setPlan(tenant, "pro");
    const [stored] = (await json<Page>(await call("GET", "/v1/plan/change-requests", { token: tenant.key }))).data;
    expect(stored?.status).toBe("cancelled");

    const declined = await json<ChangeRequest>(await ask(other.key, { plan: "enterprise" }));
    const byAdmin = await call("DELETE", `/v1/plan/change-requests/${declined.id}`, { token: ADMIN_TOKEN });
    expect(byAdmin.status).toBe(200);
    expect(await platformEvents(declined.id)).toEqual([
      expect.objectContaining({ action: "plan.change_requested", actor_type: "api_key" }),
      expect.objectContaining({ action: "plan.change_request_cancelled", actor_type: "admin" }),
    ]);
  });

  it("lists newest first with cursor paging and a status filter", async () => {
    const tenant = await createTenant({ name: "Pager", plan: "free" });
    const ids: string[] = [];
    for (const plan of ["pro", "enterprise", "pro"]) {
      const request = await json<ChangeRequest>(await ask(tenant.key, { plan }));
      ids.push(request.id);
      await call("DELETE", `/v1/plan/change-requests/${request.id}`, { token: tenant.key });
    }
    const last = await json<ChangeRequest>(await ask(tenant.key, { plan: "enterprise" }));
    ids.push(last.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : "?limit=3";
      const page: Page = await json<Page>(await call("GET", `/v1/plan/change-requests${query}`, { token: tenant.key }));
      seen.push(...page.data.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const cancelled = await json<Page>(
      await call("GET", "/v1/plan/change-requests?status=cancelled", { token: tenant.key }),
    );
    expect(cancelled.data.map((r) => r.id)).toEqual(ids.slice(0, 3).reverse());
    await expectProblem(await call("GET", "/v1/plan/change-requests?status=gone", { token: tenant.key }), 400);
    await expectProblem(
      await call("GET", "/v1/plan/change-requests?cursor=nope", { token: tenant.key }),
      400,
      "INVALID_CURSOR",
    );
  });

  it("a key without plan:write may read the plan but not ask for another (403 FORBIDDEN)", async () => {
    const tenant = await createTenant({ name: "Manager keys", plan: "free" });
    const created = await call("POST", "/v1/api-keys", {
      token: tenant.key,
      body: { name: "Manager", roles: ["manager"] },
    });
    const manager = (await json<{ secret: string }>(created)).secret;
    expect((await call("GET", "/v1/plan", { token: manager })).status).toBe(200);
    await expectProblem(await ask(manager, { plan: "pro" }), 403, "FORBIDDEN");
  });
});
