/**
 * Which events an endpoint listens to: an exact type (`user.created`), a family (`user.*`: every type whose name
 * starts with `user.`) or `*` (everything). The SQL form below is the same rule, for replays over the event log.
 */
export function matchesFilter(filter: string, type: string): boolean {
  if (filter === "*") return true;
  if (filter.endsWith(".*")) return type.startsWith(filter.slice(0, -1));
  return filter === type;
}

export function matchesAny(filters: readonly string[], type: string): boolean {
  return filters.some((filter) => matchesFilter(filter, type));
}

/** SQL true when the event type in `typeColumn` matches one of the JSON array of filters bound at `param`. */
export function sqlMatchesAny(typeColumn: string, param: string): string {
  return `EXISTS (SELECT 1 FROM json_each(${param}) f WHERE f.value = '*' OR f.value = ${typeColumn}
    OR (f.value LIKE '%.*' AND substr(${typeColumn}, 1, length(f.value) - 1) = substr(f.value, 1, length(f.value) - 1)))`;
}

/** A test event goes to the one endpoint it was sent to, never through the fan-out. */
export const TEST_EVENT_TYPE = "webhook.test";
