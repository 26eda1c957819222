import { defineErrors } from "../../core/errors";

export const VersionErrors = defineErrors({
  UNSUPPORTED_VERSION: { status: 400, title: "The API version is not one this service has released" },
});
