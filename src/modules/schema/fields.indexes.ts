import { ApiError } from "../../core/errors";
import type { FilterAttribute } from "../search/filter.compiler";
import type { FieldDefinition } from "./fields.types";
import { SchemaErrors } from "./schema.errors";
import { type SchemaStore, tenantSchema } from "./schema.service";

/**
 * The expression index of a `filterable`, `sortable` or `unique` field, created by the worker on the tenant's
 * database. Filters compile to exactly the indexed expression (`fieldColumn`), which is what lets SQLite use it.
 */

const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SAFE_ID = /^fld_[0-9A-Za-z]+$/;

/** Types compared as case-insensitive text (NOCASE), like the built-in string fields. */
const FOLDED_TYPES = new Set<FieldDefinition["type"]>(["string", "email", "url", "phone", "enum"]);

/** A field's JSON path as a SQL string literal (`'$.name'`), its name checked again since it is spliced in. */
export function attributePath(name: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe field name ${name}`);
  return `'$.${name}'`;
}

export function indexName(field: Pick<FieldDefinition, "id">): string {
  if (!SAFE_ID.test(field.id)) throw new Error(`unsafe field id ${field.id}`);
  return `users_cf_${field.id.toLowerCase()}`;
}

/** The second index of a field that is both filterable and sortable (see `indexStatements`). */
function sortIndexName(field: Pick<FieldDefinition, "id">): string {
  return `${indexName(field)}_sort`;
}

export function needsIndex(field: FieldDefinition): boolean {
  return field.type !== "string[]" && (field.unique || field.filterable || field.sortable);
}

/**
 * The SQL expression of a field's value, `users.`-qualified or not (an index is declared unqualified). Names and
 * ids are checked against their grammar again here: they are spliced into SQL text (as JSON paths they cannot be
 * bound parameters and still match an index).
 */
export function fieldColumn(field: FieldDefinition, qualified: boolean, name = field.name): string {
  if (!SAFE_NAME.test(name)) throw new Error(`unsafe field name ${name}`);
  const table = qualified ? "users." : "";
  if (field.pii) {
    if (!SAFE_ID.test(field.id)) throw new Error(`unsafe field id ${field.id}`);
    return `json_extract(${table}pii_index, '$.${field.id}')`;
  }
  return `json_extract(${table}attributes, ${attributePath(name)})`;
}

function collation(field: FieldDefinition): string {
  return !field.pii && FOLDED_TYPES.has(field.type) ? " COLLATE NOCASE" : "";
}

export function dropIndex(db: D1Database, field: Pick<FieldDefinition, "id">): D1PreparedStatement[] {
  return [
    db.prepare(`DROP INDEX IF EXISTS "${indexName(field)}"`),
    db.prepare(`DROP INDEX IF EXISTS "${sortIndexName(field)}"`),
  ];
}

/**
 * Drops the field's indexes and creates the ones its flags need, each shaped for how the list uses it:
 * - unique: `UNIQUE (value)` (it also serves filters and sorts: a value matches one user at most);
 * - filterable: `(value, created_at, id)`, so `attributes.x eq …` in the default order (createdAt, then id) reads
 *   the matching users already in page order instead of sorting all of them for every page;
 * - sortable: `(value, id)`, the keyset order of `sort=attributes.x` (a second index when also filterable).
 */
export function indexStatements(db: D1Database, field: FieldDefinition): D1PreparedStatement[] {
  const statements = dropIndex(db, field);
  if (!needsIndex(field)) return statements;
  const value = `${fieldColumn(field, false)}${collation(field)}`;
  const create = (name: string, columns: string, unique = "") =>
    db.prepare(`CREATE ${unique}INDEX "${name}" ON users (${columns})`);
  if (field.unique) return [...statements, create(indexName(field), value, "UNIQUE ")];
  if (field.filterable) statements.push(create(indexName(field), `${value}, created_at, id`));
  if (field.sortable) {
    statements.push(create(field.filterable ? sortIndexName(field) : indexName(field), `${value}, id`));
  }
  return statements;
}

/** The filter catalogue entry of a field: its type for the compiler, compared through its index expression. */
export function filterAttribute(field: FieldDefinition, column = fieldColumn(field, true)): FilterAttribute {
  const type =
    field.type === "number" || field.type === "integer"
      ? "number"
      : field.type === "boolean"
        ? "boolean"
        : field.type === "datetime"
          ? "datetime"
          : field.type === "string[]"
            ? "stringArray"
            : "string";
  return { column, type, filterable: field.filterable || field.unique, caseExact: !FOLDED_TYPES.has(field.type) };
}

/** A write refused by a unique field's index, as the 409 that names the field; undefined for other errors. */
export async function uniqueFieldConflict(store: SchemaStore, error: unknown): Promise<ApiError | undefined> {
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  const index = /UNIQUE constraint failed: index '(users_cf_[0-9a-z_]+)'/.exec(message)?.[1];
  if (!index) return undefined;
  const field = (await tenantSchema(store)).fields.find((candidate) => indexName(candidate) === index);
  const name = field?.name ?? "unknown";
  return new ApiError(SchemaErrors.FIELD_VALUE_TAKEN, {
    detail: `Another user already has this value of the unique field '${name}'.`,
    errors: [{ field: `attributes.${name}`, code: "not_unique", detail: "Another user has this value." }],
    cause: error,
  });
}

/**
 * Which of these skipped creates (a set-based insert with ON CONFLICT DO NOTHING) hold a value of a unique
 * field that another user has: one batch of lookups through the fields' unique indexes. `pii` fields are looked
 * up by value only through their blind index, which the row does not carry here; they stay unexplained.
 */
export async function uniqueFieldsTaken(
  store: SchemaStore,
  creates: { index: number; attributes: Record<string, unknown> }[],
): Promise<{ index: number; error: ApiError }[]> {
  const fields = (await tenantSchema(store)).fields.filter((f) => f.unique && !f.pii && f.deletedAt === null);
  const probes = creates.flatMap(({ index, attributes }) =>
    fields.flatMap((field) => {
      const value = attributes[field.name];
      return value === undefined || value === null ? [] : [{ index, field, value }];
    }),
  );
  if (probes.length === 0) return [];
  const results = await store.db.batch(
    probes.map(({ field, value }) =>
      store.db
        .prepare(`SELECT 1 AS taken FROM users WHERE ${fieldColumn(field, false)}${collation(field)} = ? LIMIT 1`)
        .bind(value),
    ),
  );
  return probes.flatMap(({ index, field }, i) =>
    (results[i]?.results.length ?? 0) > 0
      ? [
          {
            index,
            error: new ApiError(SchemaErrors.FIELD_VALUE_TAKEN, {
              detail: `Another user already has this value of the unique field '${field.name}'.`,
              errors: [
                { field: `data.attributes.${field.name}`, code: "not_unique", detail: "Another user has this value." },
              ],
            }),
          },
        ]
      : [],
  );
}
