import { defineErrors } from "../../core/errors";

export const PasswordErrors = defineErrors({
  // one answer for a token that is unknown, used or expired: which of them it is helps nobody but a guesser
  INVALID_TOKEN: { status: 400, title: "The token is not valid" },
});
