import { defineErrors } from "../../core/errors";

export const SecurityPolicyErrors = defineErrors({
  SECURITY_POLICY_WRITE_CONFLICT: { status: 409, title: "The tenant kept changing; try again" },
});
