import { defineErrors } from "../../core/errors";

export const ActionErrors = defineErrors({
  ACTION_NOT_FOUND: { status: 404, title: "No such HTTP action" },
  ACTION_DENIED: { status: 403, title: "An HTTP action denied the operation" },
  ACTION_UNAVAILABLE: { status: 503, title: "A fail-closed HTTP action could not be reached" },
});
