import { defineErrors } from "../../core/errors";

export const RoleErrors = defineErrors({
  ROLE_NOT_FOUND: { status: 404, title: "Role not found" },
  ROLE_EXISTS: { status: 409, title: "A role with this name exists" },
  BUILT_IN_ROLE: { status: 409, title: "Built-in roles cannot be created, changed or deleted" },
  ROLE_IN_USE: { status: 409, title: "The role is held by users, API keys or OAuth clients" },
  ROLE_GRANTS_NOT_HELD: { status: 403, title: "A credential can only hand out grants it holds" },
});
