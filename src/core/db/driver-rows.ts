import { getTableColumns, type InferSelectModel } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * A row as D1 returns it for `SELECT *` (column names, driver values) mapped as drizzle maps its own selects
 * (property names, JSON and boolean modes): for statements that must share a D1 batch with plain SQL.
 */
export function fromDriverRow<T extends SQLiteTable>(table: T, raw: Record<string, unknown>): InferSelectModel<T> {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<T>;
}
