import { z } from "@hono/zod-openapi";
import { fromBase64Url, toBase64Url, utf8 } from "../crypto/encoding";
import { ApiError, CoreErrors } from "../errors";

/** `limit` (1–1000, default 50) and `cursor`, shared by every list. */
// strict, like every query here: an unknown parameter (a typo, or a filter this version lacks) is a 400,
// never silently ignored
export const PageQuerySchema = z.strictObject({
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

type PositionType = "string" | "number";
type Position<T extends readonly PositionType[]> = { [K in keyof T]: T[K] extends "number" ? number : string };

/** The position a cursor of this list holds, typed as `types`; anything else is 400 INVALID_CURSOR. */
export function decodeCursor<const T extends readonly PositionType[]>(
  kind: string,
  cursor: string,
  types: T,
): Position<T> {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(fromBase64Url(cursor)));
    if (
      Array.isArray(parsed) &&
      parsed[0] === kind &&
      parsed.length === types.length + 1 &&
      types.every((type, i) => typeof parsed[i + 1] === type)
    ) {
      return parsed.slice(1) as Position<T>;
    }
  } catch {
    // fall through to the problem below
  }
  throw new ApiError(CoreErrors.INVALID_CURSOR, {
    detail: "The cursor is malformed or belongs to another list or sort order; start again without it.",
  });
}

/**
 * A page from rows fetched with `limit + 1` (the extra row only tells that more follow), and the cursor at
 * its last row.
 */
export function pageOf<T, U>(
  rows: readonly T[],
  limit: number,
  kind: string,
  position: (row: T) => readonly unknown[],
  toItem: (row: T) => U,
): { data: U[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(kind, position(last)) : null,
  };
}
