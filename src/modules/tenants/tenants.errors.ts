import { defineErrors } from "../../core/errors";

export const TenantErrors = defineErrors({
  TENANT_NOT_FOUND: { status: 404, title: "Tenant not found" },
  TENANT_HAS_CHILDREN: { status: 409, title: "The tenant still has sub-accounts" },
  SUB_ACCOUNT_DEPTH_EXCEEDED: { status: 409, title: "Sub-accounts may not nest deeper" },
  TENANT_POOL_EXHAUSTED: { status: 503, title: "No tenant database is free" },
});
