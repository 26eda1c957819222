-- Plans: a tenant asks for another plan (POST /v1/plan/change-requests); the platform admin applies it by
-- changing the tenant's plan (PATCH /v1/tenants/{id}), which marks the pending request for that plan applied in
-- the same batch. At most one request per tenant is pending (the partial unique index), so two concurrent asks
-- cannot both be recorded. Rows go with their tenant.
CREATE TABLE plan_change_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  from_plan TEXT NOT NULL CHECK (from_plan IN ('free', 'pro', 'enterprise')),
  to_plan TEXT NOT NULL CHECK (to_plan IN ('free', 'pro', 'enterprise')),
  note TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'cancelled')),
  created_at TEXT NOT NULL,
  resolved_at TEXT
);
--> statement-breakpoint
CREATE INDEX plan_change_requests_tenant_idx ON plan_change_requests (tenant_id, status);
--> statement-breakpoint
CREATE UNIQUE INDEX plan_change_requests_one_pending_idx ON plan_change_requests (tenant_id) WHERE status = 'pending';
--> statement-breakpoint
CREATE INDEX plan_change_requests_created_idx ON plan_change_requests (created_at, id);
