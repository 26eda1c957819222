import { defineErrors } from "../../core/errors";

export const ApiKeyErrors = defineErrors({
  API_KEY_NOT_FOUND: { status: 404, title: "API key not found" },
  API_KEY_REVOKED: { status: 409, title: "The API key is revoked" },
  API_KEY_ROLES_NOT_HELD: { status: 403, title: "A credential can only grant roles whose permissions it holds" },
});
