import { defineErrors } from "../../core/errors";

export const RateLimitErrors = defineErrors({
  RATE_LIMITS_WRITE_CONFLICT: { status: 409, title: "The tenant kept changing; try again" },
  BOOST_RUNNING: { status: 409, title: "A campaign boost is already running" },
});
