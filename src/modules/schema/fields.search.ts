import { searchTextTriggers } from "../search/fulltext.schema";
import { liveFields } from "./attributes";
import type { FieldDefinition } from "./fields.types";
import type { LoadedSchema } from "./schema.repo";

/**
 * Which custom fields `q=` searches. Plain (non-`pii`) ones are read by the `users_text` triggers from
 * `attributes`, so the triggers are generated again whenever that set changes; `pii` ones are searched through
 * keyed n-grams written when their values are sealed (users.pii.ts).
 */

export function searchableNames(schema: Pick<LoadedSchema, "fields">): string[] {
  return liveFields(schema as LoadedSchema)
    .filter((field) => field.searchable && !field.pii)
    .map((field) => field.name)
    .sort();
}

/** The trigger statements for the searchable set after a change, when it differs from the set before. */
export function searchTriggerChange(
  db: D1Database,
  before: Pick<LoadedSchema, "fields">,
  after: Pick<LoadedSchema, "fields">,
): D1PreparedStatement[] {
  const [was, is] = [searchableNames(before), searchableNames(after)];
  return was.join(",") === is.join(",") ? [] : searchTextTriggers(db, is);
}

/** A schema with `field` put in place of its current version (or added, or marked deleted). */
export function withField(schema: LoadedSchema, field: FieldDefinition & { deletedAt: string | null }) {
  const others = schema.fields.filter((candidate) => candidate.id !== field.id);
  return { fields: [...others, { ...schema.fields.find((f) => f.id === field.id), ...field }] } as Pick<
    LoadedSchema,
    "fields"
  >;
}
