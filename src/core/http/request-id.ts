import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env";
import { newId } from "../ids";

const ACCEPTED = /^[A-Za-z0-9._:-]{8,128}$/;

/** Every response carries X-Request-Id: the caller's, when it is a sane token, or a new `req_…` id. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header("x-request-id");
    const id = incoming && ACCEPTED.test(incoming) ? incoming : newId("req");
    c.set("requestId", id);
    await next();
    c.res.headers.set("X-Request-Id", id);
  };
}
