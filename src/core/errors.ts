import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One field-level problem inside a validation error (API.md: `errors: [{field, code, detail}]`). */
export interface FieldError {
  field: string;
  code: string;
  detail: string;
}

interface ErrorDefinition {
  status: ContentfulStatusCode;
  title: string;
}

const registry = new Map<string, ErrorDefinition>();

/**
 * Declares a module's error codes with their HTTP status and title. Codes are global and UPPER_SNAKE;
 * declaring one twice with another meaning is a programming error caught at startup.
 */
export function defineErrors<const T extends Record<string, ErrorDefinition>>(defs: T): { [K in keyof T]: K } {
  const codes = {} as { [K in keyof T]: K };
  for (const [code, def] of Object.entries(defs)) {
    const existing = registry.get(code);
    if (existing && (existing.status !== def.status || existing.title !== def.title)) {
      throw new Error(`error code ${code} declared twice with different meanings`);
    }
    registry.set(code, def);
    (codes as Record<string, string>)[code] = code;
  }
  return codes;
}

export function errorDefinition(code: string): ErrorDefinition {
  const def = registry.get(code);
  if (!def) throw new Error(`undeclared error code ${code}`);
  return def;
}

export function declaredErrorCodes(): ReadonlyMap<string, ErrorDefinition> {
  return registry;
}

export const CoreErrors = defineErrors({
  VALIDATION_FAILED: { status: 400, title: "The request is not valid" },
  MALFORMED_JSON: { status: 400, title: "The request body is not valid JSON" },
  BAD_REQUEST: { status: 400, title: "Bad request" },
  INVALID_CURSOR: { status: 400, title: "The cursor is not valid for this list" },
  UNAUTHENTICATED: { status: 401, title: "Authentication required" },
  INVALID_CREDENTIAL: { status: 401, title: "The credential is not valid" },
  FORBIDDEN: { status: 403, title: "Not allowed" },
  TENANT_CREDENTIAL_REQUIRED: { status: 403, title: "This endpoint needs a tenant credential" },
  ADMIN_CREDENTIAL_REQUIRED: { status: 403, title: "This endpoint needs the platform admin token" },
  FEATURE_NOT_IN_PLAN: { status: 403, title: "The tenant's plan does not include this feature" },
  QUOTA_EXCEEDED: { status: 403, title: "A quota of the tenant's plan is reached" },
  NOT_FOUND: { status: 404, title: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: "The Idempotency-Key was used with another request" },
  IDEMPOTENCY_REQUEST_IN_PROGRESS: {
    status: 409,
    title: "A request with this Idempotency-Key is still in progress",
  },
  PRECONDITION_FAILED: { status: 412, title: "The resource changed since the given ETag" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "The request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  INTERNAL: { status: 500, title: "Internal server error" },
  SERVICE_UNAVAILABLE: { status: 503, title: "Service unavailable" },
  RATE_LIMITER_UNAVAILABLE: { status: 503, title: "The rate limiter cannot be reached" },
});

export interface ApiErrorOptions {
  detail?: string;
  errors?: ReadonlyArray<FieldError | Record<string, unknown>>;
  /** Extra members of the problem object (RFC 9457 §3.2 extension members), e.g. `requiredPlan`. */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The one error type of the service; `onError` is the only place that turns it into a response. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: ContentfulStatusCode;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: ApiErrorOptions["errors"];
  readonly extensions: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: string, options: ApiErrorOptions = {}) {
    const def = errorDefinition(code);
    super(options.detail ?? def.title, { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = def.status;
    this.title = def.title;
    this.detail = options.detail;
    this.errors = options.errors;
    this.extensions = options.extensions;
    this.headers = options.headers;
  }
}

export function problemType(code: string): string {
  return `urn:uom:problem:${code.toLowerCase().replaceAll("_", "-")}`;
}

/** The RFC 9457 body for an ApiError. */
export function problemBody(error: ApiError, requestId: string): Record<string, unknown> {
  return {
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.detail ?? error.title,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
    ...error.extensions,
  };
}
