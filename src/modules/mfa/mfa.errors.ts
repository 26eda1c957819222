import { defineErrors } from "../../core/errors";

export const MfaErrors = defineErrors({
  MFA_ALREADY_ENABLED: { status: 409, title: "TOTP is already enabled for this user" },
  MFA_NOT_PENDING: { status: 409, title: "No TOTP enrolment is waiting for verification" },
  MFA_NOT_ENABLED: { status: 409, title: "TOTP is not enabled for this user" },
  INVALID_TOTP_CODE: { status: 400, title: "The TOTP code is not valid" },
  TOO_MANY_CODE_ATTEMPTS: { status: 429, title: "Too many wrong codes; try again later" },
});
