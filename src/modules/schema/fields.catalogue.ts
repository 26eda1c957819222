import { ApiError } from "../../core/errors";
import type { FilterAttribute, FilterCatalogue } from "../search/filter.compiler";
import { FilterCompileError } from "../search/filter.errors";
import { type FilterNode, walkFilter } from "../search/filter.parser";
import { attributeIndex, type UserStore } from "../users/users.pii";
import { acceptedPreviousName } from "./attributes";
import { fieldColumn, filterAttribute } from "./fields.indexes";
import { SchemaErrors } from "./schema.errors";
import type { LoadedSchema, StoredField } from "./schema.repo";

/**
 * The custom fields as filter attributes (`attributes.<name>`, case-insensitive): declared fields only, and
 * only the `filterable` (or `unique`) ones may be used. `pii` fields compare through their blind index (eq),
 * a field being renamed answers to both names (reading both places until its values have moved).
 */
export async function fieldCatalogue(
  store: UserStore,
  schema: LoadedSchema,
  tree: FilterNode,
): Promise<FilterCatalogue> {
  const catalogue: Record<string, FilterAttribute> = {};
  const used = attributesIn(tree);
  for (const field of schema.fields) {
    if (field.deletedAt !== null) continue;
    const names = [field.name, acceptedPreviousName(field)].flatMap((name) => (name ? [name.toLowerCase()] : []));
    if (!names.some((name) => used.has(`attributes.${name}`))) continue;
    const jobs = schema.jobs.filter((job) => job.fieldId === field.id);
    if (jobs.some((job) => job.kind === "convert")) {
      throw new ApiError(SchemaErrors.FIELD_CHANGE_IN_PROGRESS, {
        detail: `'${field.name}' is being converted to ${field.type}; filter on it once that is done.`,
        headers: { "Retry-After": "30" },
      });
    }
    const entry = field.pii ? await sealedEntry(store, field, tree) : plainEntry(field, jobs);
    for (const name of names) catalogue[`attributes.${name}`] = entry;
  }
  return catalogue;
}

function plainEntry(field: StoredField, jobs: LoadedSchema["jobs"]): FilterAttribute {
  const rename = jobs.find((job) => job.kind === "rename");
  if (!rename) return filterAttribute(field);
  const column = `coalesce(${fieldColumn(field, true)}, ${fieldColumn(field, true, String(rename.params.from))})`;
  return filterAttribute(field, column);
}

/** A `pii` field: only eq (and ne, pr), through the keyed blind index of each value the filter names. */
async function sealedEntry(store: UserStore, field: StoredField, tree: FilterNode): Promise<FilterAttribute> {
  const names = new Set([field.name, acceptedPreviousName(field)].map((name) => `attributes.${name}`.toLowerCase()));
  const values = new Set<string | number | boolean>();
  walkFilter(tree, (node) => {
    if (node.type === "compare" && names.has(node.attribute.toLowerCase()) && node.value !== null) {
      values.add(node.value);
    }
  });
  const tokens = new Map(
    await Promise.all([...values].map(async (value) => [value, await attributeIndex(store, field.id, value)] as const)),
  );
  const column = fieldColumn(field, true);
  return {
    column,
    type: "string",
    filterable: field.filterable || field.unique,
    caseExact: true,
    compare: (op, value, bind) => {
      const token = tokens.get(value);
      if (op !== "eq" || token === undefined) {
        throw new FilterCompileError(
          `"attributes.${field.name}" is stored encrypted: it supports eq, ne and pr`,
          `attributes.${field.name}`,
        );
      }
      return `${column} = ${bind(token)}`;
    },
  };
}

function attributesIn(tree: FilterNode): Set<string> {
  const names = new Set<string>();
  walkFilter(tree, (node) => {
    if ("attribute" in node) names.add(node.attribute.toLowerCase());
  });
  return names;
}

/**
 * The ORDER BY expression of a sortable field (by name, or previous name while accepted): its index expression
 * with the index's collation, or during a rename both places; null when no live sortable field has that name.
 * A field being converted to another type cannot be sorted on until that is done.
 */
export function sortExpression(schema: LoadedSchema, name: string): string | null {
  const field = schema.fields.find(
    (candidate) =>
      candidate.deletedAt === null &&
      (candidate.name.toLowerCase() === name.toLowerCase() ||
        acceptedPreviousName(candidate)?.toLowerCase() === name.toLowerCase()),
  );
  if (!field?.sortable) return null;
  const jobs = schema.jobs.filter((job) => job.fieldId === field.id);
  if (jobs.some((job) => job.kind === "convert")) {
    throw new ApiError(SchemaErrors.FIELD_CHANGE_IN_PROGRESS, {
      detail: `'${field.name}' is being converted to ${field.type}; sort on it once that is done.`,
      headers: { "Retry-After": "30" },
    });
  }
  const entry = plainEntry(field, jobs);
  return entry.caseExact ? entry.column : `${entry.column} COLLATE NOCASE`;
}
