/**
 * The plaintext side of user search (migrations/tenant/0010_search.sql): the `users_text` FTS5 table is kept in
 * step with `users` by triggers, and its `fields` column holds the tenant's `searchable` (non-`pii`) custom fields.
 * Which fields those are changes at run time, so the triggers that compute `fields` are generated here; the schema
 * module re-creates them (`searchTextTriggers`) when a field's `searchable` flag changes, then re-indexes the
 * existing rows in bounded chunks (`reindexSearchText`).
 */

/** Custom field names that may appear in a trigger: the schema module's own rule, checked again here. */
export const SEARCHABLE_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Rows re-indexed per D1 batch by `reindexSearchText` (one INSERT … SELECT, bounded by rowid). */
export const REINDEX_CHUNK_ROWS = 500;

const INSERT_TRIGGER = "users_text_on_insert";
const UPDATE_TRIGGER = "users_text_on_update";

function checkedFields(fields: readonly string[]): string[] {
  for (const field of fields) {
    if (!SEARCHABLE_FIELD_NAME.test(field)) throw new Error(`not a custom field name: ${JSON.stringify(field)}`);
  }
  return [...new Set(fields)].sort();
}

/**
 * The SQL expression of the `fields` column for the row `row` (`new`, or `users` in a SELECT): the searchable
 * fields' values joined by spaces, or NULL when there are none. Field names are checked against
 * SEARCHABLE_FIELD_NAME, so they can only be plain JSON path keys.
 */
export function fieldsExpression(fields: readonly string[], row: string): string {
  const names = checkedFields(fields);
  if (names.length === 0) return "NULL";
  return `concat_ws(' ', ${names.map((name) => `json_extract(${row}.attributes, '$.${name}')`).join(", ")})`;
}

/** The CREATE TRIGGER statements of `users_text` for these searchable fields (the migration's text for none). */
export function searchTextTriggerSql(fields: readonly string[]): string[] {
  const value = fieldsExpression(fields, "new");
  // with no searchable field, an attributes change leaves the indexed text as it is
  const watched = value === "NULL" ? ["name", "username"] : ["name", "username", "attributes"];
  const insert = `INSERT INTO users_text (rowid, name, username, fields) VALUES (new.rowid, new.name, new.username, ${value});`;
  return [
    `CREATE TRIGGER ${INSERT_TRIGGER} AFTER INSERT ON users BEGIN\n  ${insert}\nEND`,
    `CREATE TRIGGER ${UPDATE_TRIGGER} AFTER UPDATE OF ${watched.join(", ")} ON users\n` +
      `WHEN ${watched.map((column) => `old.${column} IS NOT new.${column}`).join(" OR ")} BEGIN\n` +
      `  DELETE FROM users_text WHERE rowid = old.rowid;\n  ${insert}\nEND`,
  ];
}

/**
 * Statements that replace the `users_text` triggers with ones for `fields` (the complete set of searchable,
 * non-`pii` custom fields). Run them in one batch (one transaction), so no write sees the triggers missing; rows
 * written before keep their old `fields` until `reindexSearchText` has passed over them.
 */
export function searchTextTriggers(db: D1Database, fields: readonly string[]): D1PreparedStatement[] {
  return [
    db.prepare(`DROP TRIGGER IF EXISTS ${INSERT_TRIGGER}`),
    db.prepare(`DROP TRIGGER IF EXISTS ${UPDATE_TRIGGER}`),
    ...searchTextTriggerSql(fields).map((text) => db.prepare(text)),
  ];
}

/**
 * Re-indexes the next `limit` users after `afterRowid` (0 to start) with these fields, in one batch; returns the
 * last rowid done, or null when none was left. Call it until null after `searchTextTriggers`: each call is
 * bounded, and a user written meanwhile is indexed by the new triggers anyway.
 */
export async function reindexSearchText(
  db: D1Database,
  fields: readonly string[],
  afterRowid: number,
  limit = REINDEX_CHUNK_ROWS,
): Promise<number | null> {
  const bound = await db
    .prepare("SELECT max(rowid) AS last FROM (SELECT rowid FROM users WHERE rowid > ? ORDER BY rowid LIMIT ?)")
    .bind(afterRowid, limit)
    .first<{ last: number | null }>();
  const last = bound?.last ?? null;
  if (last !== null) await db.batch(reindexTextRange(db, fields, afterRowid, last));
  return last;
}

/** The statements that re-index the users with rowids in (after, upper] for these fields (a schema job's chunk). */
export function reindexTextRange(
  db: D1Database,
  fields: readonly string[],
  after: number,
  upper: number,
): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM users_text WHERE rowid > ? AND rowid <= ?").bind(after, upper),
    db
      .prepare(
        `INSERT INTO users_text (rowid, name, username, fields)
         SELECT rowid, name, username, ${fieldsExpression(fields, "users")} FROM users WHERE rowid > ? AND rowid <= ?`,
      )
      .bind(after, upper),
  ];
}

/**
 * Rebuilds the `users_grams` entries of the next `limit` users after `afterRowid` from their `contact_grams` and
 * `pii_grams` columns; returns the last rowid done, or null when none was left. Not needed in normal operation
 * (the triggers keep the table in step): for a table rebuilt from scratch, e.g. after an import that renumbered
 * rowids (docs/storage-schema.md, "Search tables").
 */
export async function reindexSearchGrams(
  db: D1Database,
  afterRowid: number,
  limit = REINDEX_CHUNK_ROWS,
): Promise<number | null> {
  const upper = "(SELECT max(rowid) FROM (SELECT rowid FROM users WHERE rowid > ?1 ORDER BY rowid LIMIT ?2))";
  const [bound] = await db.batch([
    db.prepare(`SELECT ${upper} AS last`).bind(afterRowid, limit),
    db.prepare(`DELETE FROM users_grams WHERE rowid > ?1 AND rowid <= ${upper}`).bind(afterRowid, limit),
    db
      .prepare(
        `INSERT INTO users_grams (rowid, contact, pii) SELECT rowid, contact_grams, pii_grams FROM users
         WHERE rowid > ?1 AND rowid <= ${upper} AND (contact_grams IS NOT NULL OR pii_grams IS NOT NULL)`,
      )
      .bind(afterRowid, limit),
  ]);
  const last = (bound?.results[0] as { last: number | null } | undefined)?.last;
  return last ?? null;
}
