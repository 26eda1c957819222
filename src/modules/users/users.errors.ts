import { defineErrors } from "../../core/errors";

export const UserErrors = defineErrors({
  USER_NOT_FOUND: { status: 404, title: "User not found" },
  EMAIL_TAKEN: { status: 409, title: "Another user has this email" },
  USERNAME_TAKEN: { status: 409, title: "Another user has this username" },
  EXTERNAL_ID_TAKEN: { status: 409, title: "Another user has this externalId" },
  USER_NOT_DELETED: { status: 409, title: "The user is not deleted" },
  USER_BEYOND_RIGHTS: { status: 403, title: "The user is beyond this credential's rights" },
  FIELD_NOT_WRITABLE: { status: 403, title: "The request writes a field this credential may not write" },
  FIELD_NOT_READABLE: { status: 403, title: "The request uses a field this credential may not read" },
  USER_WRITE_CONFLICT: { status: 409, title: "The user kept changing; try again" },
  BULK_TOO_LARGE: { status: 413, title: "Too many bulk operations" },
  INVALID_FILTER: { status: 400, title: "The filter is not valid" },
  BULK_ATOMIC_FAILED: { status: 422, title: "The atomic bulk request was refused; nothing was committed" },
});
