import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../../env";
import { ApiError, CoreErrors, problemBody } from "../errors";

const HTTP_EXCEPTION_CODES: Record<number, string> = {
  400: CoreErrors.BAD_REQUEST,
  401: CoreErrors.UNAUTHENTICATED,
  404: CoreErrors.NOT_FOUND,
  405: CoreErrors.METHOD_NOT_ALLOWED,
  413: CoreErrors.PAYLOAD_TOO_LARGE,
  415: CoreErrors.UNSUPPORTED_MEDIA_TYPE,
};

/** Any thrown value as the ApiError it means (unknown errors: 500 with a generic message). */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    if (error.status === 400 && /malformed json/i.test(error.message)) {
      return new ApiError(CoreErrors.MALFORMED_JSON, { detail: "The request body is not valid JSON." });
    }
    const code = HTTP_EXCEPTION_CODES[error.status];
    if (code) return new ApiError(code, { detail: error.message || undefined });
  }
  return new ApiError(CoreErrors.INTERNAL, { detail: "Something went wrong on our side.", cause: error });
}

export function problemResponse(c: Context<AppEnv>, error: ApiError): Response {
  const response = c.json(problemBody(error, c.get("requestId")), error.status, error.headers);
  response.headers.set("Content-Type", "application/problem+json");
  return response;
}

interface LoggedError {
  name: string;
  message: string;
  stack?: string | undefined;
  cause?: LoggedError | string;
}

/**
 * An error for the log: its cause chain (a driver's error sits in `cause`, and it is the part that says what
 * went wrong), without a query's bound parameters, which hold personal data (emails, names, hashes).
 */
export function loggableError(error: unknown, depth = 0): LoggedError | string {
  if (!(error instanceof Error)) return String(error);
  let message = error.message;
  if (error instanceof DrizzleQueryError) message = `Failed query: ${error.query}`;
  const stack = error.stack?.startsWith(`${error.name}: ${error.message}`)
    ? `${error.name}: ${message}${error.stack.slice(error.name.length + 2 + error.message.length)}`
    : undefined;
  return {
    name: error.name,
    message,
    stack,
    ...(error.cause !== undefined && depth < 5 ? { cause: loggableError(error.cause, depth + 1) } : {}),
  };
}

/**
 * Logs a 5xx: unknown errors with their stack (never echoed to the client), a deliberate 5xx problem (pool
 * exhausted, …) as a warning. LOG_LEVEL=silent mutes both.
 */
export function logServerError(c: Context<AppEnv>, error: unknown, apiError: ApiError): void {
  if (apiError.status >= 500 && c.env?.LOG_LEVEL !== "silent") {
    const unknown = !(error instanceof ApiError);
    console.error(
      JSON.stringify({
        level: unknown ? "error" : "warn",
        msg: unknown ? "unhandled error" : "server problem",
        time: new Date().toISOString(),
        requestId: c.get("requestId"),
        code: apiError.code,
        error: unknown ? loggableError(error) : { name: apiError.name, message: apiError.message },
      }),
    );
  }
}

/** The only place errors become problem responses (RFC 9457); /scim/v2 answers SCIM errors instead (app.ts). */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const apiError = toApiError(error);
  logServerError(c, error, apiError);
  return problemResponse(c, apiError);
};

/** Unknown paths are 404; a known path with another method is 405 with `Allow` (RFC 9110 §15.5.6). */
export function notFoundHandler(
  app: Hono<AppEnv>,
  respond: (c: Context<AppEnv>, error: ApiError) => Response = problemResponse,
): NotFoundHandler<AppEnv> {
  let table: { pattern: RegExp; method: string }[] | undefined;
  return (c) => {
    table ??= app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => ({
        method: r.method,
        // exact, as the router matches (strict): `/v1/users/` is another path, not `/v1/users`
        pattern: new RegExp(`^${r.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:\w+/g, "[^/]+")}$`),
      }));
    const path = new URL(c.req.url).pathname;
    const allowed = [...new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    // Hono answers HEAD with the GET handler
    if (allowed.includes("GET")) allowed.push("HEAD");
    if (allowed.length > 0) {
      return respond(
        c,
        new ApiError(CoreErrors.METHOD_NOT_ALLOWED, {
          detail: `${c.req.method} is not allowed here; use ${allowed.join(", ")}.`,
          headers: { Allow: allowed.join(", ") },
        }),
      );
    }
    return respond(c, new ApiError(CoreErrors.NOT_FOUND, { detail: `No route for ${c.req.method} ${path}.` }));
  };
}
