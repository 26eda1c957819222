import type { z } from "@hono/zod-openapi";
import { ApiError, CoreErrors, type FieldError } from "../errors";

type Issue = z.core.$ZodIssue;

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/** One entry per field; an unknown key is reported under its own name. */
export function fieldErrors(
  issues: readonly Issue[],
  prefix: readonly PropertyKey[] = [],
  unknownKind = "field",
): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: dotted([...path, key]),
        code: `unknown_${unknownKind}`,
        detail: `Unknown ${unknownKind} '${key}'.`,
      }));
    }
    return [{ field: dotted(path) || "(body)", code: issue.code, detail: issue.message }];
  });
}

export function validationError(errors: FieldError[], what = "request"): ApiError {
  const n = errors.length;
  return new ApiError(CoreErrors.VALIDATION_FAILED, {
    detail: `${n} ${n === 1 ? "field" : "fields"} of the ${what} ${n === 1 ? "is" : "are"} not valid: ${errors
      .map((e) => e.field)
      .join(", ")}.`,
    errors,
  });
}

/** zod-openapi's hook: a failed validation becomes a 400 problem with one entry per field. */
export function validationHook(result: { success: boolean; error?: z.ZodError; target?: string }): void {
  if (!result.success && result.error) {
    const query = result.target === "query";
    throw validationError(
      fieldErrors(result.error.issues, [], query ? "parameter" : "field"),
      result.target === "json" ? "body" : result.target,
    );
  }
}
