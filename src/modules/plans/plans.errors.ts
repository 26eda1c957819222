import { defineErrors } from "../../core/errors";

export const PlanErrors = defineErrors({
  PLAN_UNCHANGED: { status: 409, title: "The tenant is on this plan already" },
  CHANGE_REQUEST_PENDING: { status: 409, title: "A plan change request is pending already" },
  CHANGE_REQUEST_NOT_FOUND: { status: 404, title: "Plan change request not found" },
  CHANGE_REQUEST_NOT_PENDING: { status: 409, title: "The plan change request is no longer pending" },
});
