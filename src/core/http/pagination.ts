import { z } from "@hono/zod-openapi";
import { fromBase64Url, toBase64Url, utf8 } from "../crypto/encoding";
import { ApiError, CoreErrors } from "../errors";

/** `limit` (1–1000, default 50) and `cursor`, shared by every list. */
export const PageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(50)
    .openapi({ description: "Page size, 1–1000.", example: 50 }),
  cursor: z.string().max(1024).optional().openapi({ description: "The `nextCursor` of the previous page." }),
});

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      data: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
    })
    .openapi(name);
}

/**
 * Opaque keyset cursors: base64url JSON tagged with the list and its order, so a cursor from one list or
 * sort order is refused by another (400 INVALID_CURSOR) instead of silently skipping rows.
 */
export function encodeCursor(kind: string, position: readonly unknown[]): string {
  return toBase64Url(utf8(JSON.stringify([kind, ...position])));
}

export function decodeCursor(kind: string, cursor: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(fromBase64Url(cursor)));
    if (Array.isArray(parsed) && parsed[0] === kind) return parsed.slice(1);
  } catch {
    // fall through to the problem below
  }
  throw new ApiError(CoreErrors.INVALID_CURSOR, {
    detail: "The cursor is malformed or belongs to another list or sort order; start again without it.",
  });
}
