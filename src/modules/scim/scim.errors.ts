import type { Context } from "hono";
import { ApiError, CoreErrors, defineErrors } from "../../core/errors";
import { logServerError, toApiError } from "../../core/http/error-handler";
import type { AppEnv } from "../../env";
import { UserErrors } from "../users/users.errors";

/** RFC 7644 §3.12, table 9. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

export const ScimErrors = defineErrors({
  SCIM_INVALID_VALUE: { status: 400, title: "A SCIM attribute value is not valid" },
  SCIM_INVALID_SYNTAX: { status: 400, title: "The SCIM request is not well-formed" },
  SCIM_INVALID_PATH: { status: 400, title: "The SCIM PATCH path is not valid" },
  SCIM_NO_TARGET: { status: 400, title: "The SCIM PATCH path matched nothing" },
  SCIM_MUTABILITY: { status: 400, title: "The SCIM attribute cannot be changed" },
  SCIM_INVALID_FILTER: { status: 400, title: "The SCIM filter is not valid" },
  SCIM_NOT_FOUND: { status: 404, title: "No such SCIM resource" },
  SCIM_GROUP_NOT_FOUND: { status: 404, title: "Group not found" },
  SCIM_GROUP_TAKEN: { status: 409, title: "Another group has this displayName or externalId" },
  SCIM_BULK_UNRESOLVED: { status: 409, title: "A bulkId reference could not be resolved" },
  SCIM_BULK_TOO_LARGE: { status: 413, title: "The SCIM bulk request is over the service provider's limits" },
});

/** The scimType of the errors that have one; the ones raised in this module carry theirs in their code. */
const SCIM_TYPES: Record<string, ScimType> = {
  [ScimErrors.SCIM_INVALID_VALUE]: "invalidValue",
  [ScimErrors.SCIM_INVALID_SYNTAX]: "invalidSyntax",
  [ScimErrors.SCIM_INVALID_PATH]: "invalidPath",
  [ScimErrors.SCIM_NO_TARGET]: "noTarget",
  [ScimErrors.SCIM_MUTABILITY]: "mutability",
  [ScimErrors.SCIM_INVALID_FILTER]: "invalidFilter",
  [ScimErrors.SCIM_GROUP_TAKEN]: "uniqueness",
  // the users service's errors, raised by the same rules as on /v1/users
  [UserErrors.EMAIL_TAKEN]: "uniqueness",
  [UserErrors.USERNAME_TAKEN]: "uniqueness",
  [UserErrors.EXTERNAL_ID_TAKEN]: "uniqueness",
  [UserErrors.INVALID_FILTER]: "invalidFilter",
  [CoreErrors.VALIDATION_FAILED]: "invalidValue",
  [CoreErrors.MALFORMED_JSON]: "invalidSyntax",
  [CoreErrors.BAD_REQUEST]: "invalidSyntax",
};

export const SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SCIM_MEDIA_TYPE = "application/scim+json";

/** RFC 7644 §3.12: `status` is a string; `scimType` only for the 400/409 cases that define one. */
export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function scimError(code: string, detail: string): ApiError {
  return new ApiError(code, { detail });
}

/** The SCIM error body for an ApiError; field errors of a validation failure are folded into `detail`. */
export function scimErrorBody(error: ApiError): ScimErrorBody {
  const scimType = SCIM_TYPES[error.code];
  const fields = (error.errors ?? [])
    .flatMap((e) => ("field" in e && "detail" in e ? [`${String(e.field)}: ${String(e.detail)}`] : []))
    .join("; ");
  const detail = error.detail ?? error.title;
  return {
    schemas: [SCIM_ERROR_SCHEMA],
    status: String(error.status),
    ...(scimType ? { scimType } : {}),
    detail: fields && !detail.includes(fields) ? `${detail} (${fields})` : detail,
  };
}

export function scimErrorResponse(c: Context<AppEnv>, error: ApiError): Response {
  const response = c.json(scimErrorBody(error), error.status, error.headers);
  response.headers.set("Content-Type", SCIM_MEDIA_TYPE);
  return response;
}

/**
 * The one place SCIM errors are serialised (RFC 7644 §3.12): /scim/v2 answers them instead of
 * application/problem+json, for every error, ours (uniqueness, 412, …), validation and unknown ones alike.
 */
export function scimOnError(error: unknown, c: Context<AppEnv>): Response {
  const apiError = toApiError(error);
  logServerError(c, error, apiError);
  return scimErrorResponse(c, apiError);
}

export function isScimPath(path: string): boolean {
  return path === "/scim/v2" || path.startsWith("/scim/v2/");
}
