import { openPiiAttributes, type UserStore } from "../users/users.pii";
import { convertValue } from "./attributes";
import { attributePath, fieldColumn } from "./fields.indexes";
import type { FieldDefinition } from "./fields.types";
import { checkValue } from "./fields.values";

/**
 * What existing users' values say about a schema change: how many users would break a rule, with a few of them
 * named, so that a refused change (or a dry run) tells the admin what to fix first.
 */
export interface Violations {
  count: number;
  sample: { userId: string; code: string; detail: string }[];
}

const SAMPLE = 5;
const SCAN_ROWS = 2000;

export const NONE: Violations = { count: 0, sample: [] };

export function merge(...all: Violations[]): Violations {
  return {
    count: all.reduce((sum, v) => sum + v.count, 0),
    sample: all.flatMap((v) => v.sample).slice(0, SAMPLE),
  };
}

/** Users whose stored value (under `storedName`, converted to the field's type) does not fit `field`. */
export async function invalidValues(store: UserStore, field: FieldDefinition, storedName: string): Promise<Violations> {
  const found: Violations = { count: 0, sample: [] };
  let after = 0;
  for (;;) {
    const { results } = field.pii
      ? await store.db
          .prepare(
            `SELECT rowid AS seq, id, pii_attributes AS sealed FROM users WHERE rowid > ? ORDER BY rowid LIMIT ?`,
          )
          .bind(after, SCAN_ROWS)
          .all<{ seq: number; id: string; sealed: string | null }>()
      : await store.db
          .prepare(
            `SELECT rowid AS seq, id, attributes -> ${attributePath(storedName)} AS value FROM users
             WHERE rowid > ? ORDER BY rowid LIMIT ?`,
          )
          .bind(after, SCAN_ROWS)
          .all<{ seq: number; id: string; value: string | null; sealed?: never }>();
    for (const row of results) {
      const value = await storedValue(store, field, row);
      if (value === undefined) continue;
      const check = checkValue(field, convertValue(value, field.type));
      if (check.ok) continue;
      found.count++;
      if (found.sample.length < SAMPLE) found.sample.push({ userId: row.id, code: check.code, detail: check.detail });
    }
    if (results.length < SCAN_ROWS) return found;
    after = results.at(-1)?.seq ?? after;
  }
}

async function storedValue(
  store: UserStore,
  field: FieldDefinition,
  row: { id: string; value?: string | null; sealed?: string | null },
): Promise<unknown> {
  if (field.pii) {
    if (!row.sealed) return undefined;
    const opened = await openPiiAttributes(store, row.id, JSON.parse(row.sealed) as Record<string, string>);
    return opened[field.id];
  }
  return row.value === null || row.value === undefined ? undefined : (JSON.parse(row.value) as unknown);
}

/** Users without a value: what making the field required (without a default) would break. */
export function missingValues(db: D1Database, field: FieldDefinition): Promise<Violations> {
  return usersWhere(db, `${fieldPresence(field)} IS NULL`, "required", "Has no value.");
}

/** Users sharing a value with another: what making the field unique would break. */
export async function duplicateValues(db: D1Database, field: FieldDefinition): Promise<Violations> {
  const column = fieldColumn(field, false);
  const folded = field.pii ? "" : " COLLATE NOCASE";
  const { results } = await db
    .prepare(
      `SELECT count(*) AS n, min(id) AS first, max(id) AS last FROM users WHERE ${column} IS NOT NULL
       GROUP BY ${column}${folded} HAVING count(*) > 1`,
    )
    .all<{ n: number; first: string; last: string }>();
  return {
    count: results.reduce((sum, row) => sum + row.n, 0),
    sample: results
      .slice(0, SAMPLE)
      .flatMap((row) => [
        { userId: row.first, code: "not_unique", detail: `Shares its value with ${row.n - 1} other user(s).` },
      ]),
  };
}

/** Users holding any value under `name` (e.g. free-form values where a new field or a new name would land). */
export function valuesUnder(db: D1Database, name: string): Promise<Violations> {
  return usersWhere(
    db,
    `json_type(attributes, ${attributePath(name)}) IS NOT NULL`,
    "value_present",
    `Holds a value under '${name}'.`,
  );
}

/** How many users match `condition` (trusted SQL), and a few of them. */
async function usersWhere(db: D1Database, condition: string, code: string, detail: string): Promise<Violations> {
  const [count, sample] = await db.batch<{ n?: number; id?: string }>([
    db.prepare(`SELECT count(*) AS n FROM users WHERE ${condition}`),
    db.prepare(`SELECT id FROM users WHERE ${condition} LIMIT ${SAMPLE}`),
  ]);
  return {
    count: count?.results[0]?.n ?? 0,
    sample: (sample?.results ?? []).map((row) => ({ userId: String(row.id), code, detail })),
  };
}

/** An expression that is NULL exactly when the user has no value of the field. */
function fieldPresence(field: FieldDefinition): string {
  if (field.pii) return `json_type(pii_attributes, '$.${field.id}')`;
  return `json_type(attributes, ${attributePath(field.name)})`;
}
