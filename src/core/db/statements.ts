/** Anything drizzle can render to SQL (a query builder). */
export interface RenderableQuery {
  toSQL(): { sql: string; params: unknown[] };
}

/**
 * Turns a drizzle query into a D1 prepared statement, so a change, its audit row and any guard can go into
 * one native `D1Database.batch` (one transaction; D1 has no interactive transactions) with per-statement
 * results (`meta.changes`).
 */
export function toStatement(d1: D1Database, query: RenderableQuery): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return d1.prepare(sql).bind(...params);
}

/** D1 reports constraint failures only in the message text. */
export function uniqueViolation(error: unknown): string | undefined {
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  return /UNIQUE constraint failed: ([\w.]+)/.exec(message)?.[1];
}

/** Aborts the batch unless the statement just before this one changed a row (see the tenant migration). */
export function assertPreviousChanged(d1: D1Database): D1PreparedStatement {
  return d1.prepare("INSERT INTO _batch_assertions (ok) SELECT changes() > 0");
}

export function clearAssertions(d1: D1Database): D1PreparedStatement {
  return d1.prepare("DELETE FROM _batch_assertions");
}

export function isAssertionFailure(error: unknown): boolean {
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  return /CHECK constraint failed: (_batch_assertions|ok = 1)/.test(message);
}
