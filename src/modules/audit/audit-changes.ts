/**
 * `changes` of an audit event: one entry per field that changed. `restricted` marks a field readable only with
 * its field grant (as it was when recorded); the API leaves the mark out.
 */
export type Changes = Record<string, { from: unknown; to: unknown; restricted?: true }>;

export interface ChangePolicy {
  /** Never recorded, not even masked: only that they changed. */
  secret?: readonly string[];
  /** Recorded masked (`j***@e***.com`). */
  personal?: readonly string[];
  /** Recorded with the mark `restricted: true`. */
  restricted?: readonly string[];
}

export const REDACTED = "[redacted]";

export function maskPersonal(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const at = text.indexOf("@");
  if (at > 0) {
    const domain = text.slice(at + 1);
    const dot = domain.lastIndexOf(".");
    const tld = dot >= 0 ? domain.slice(dot) : "";
    return `${text[0]}***@${domain[0] ?? ""}***${tld}`;
  }
  if (text.length <= 2) return "***";
  return `${text[0]}***${text.slice(-1)}`;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" && typeof b !== "object") return a === b;
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The field-level changes between two flat records; nested objects (like `attributes`) are compared per
 * key and reported as dotted paths (`attributes.department`).
 */
export function diffChanges(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  policy: ChangePolicy = {},
  prefix = "",
): Changes {
  const changes: Changes = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    const from = before?.[key];
    const to = after?.[key];
    const path = prefix + key;
    if (isPlainObject(from) || isPlainObject(to)) {
      Object.assign(
        changes,
        diffChanges(isPlainObject(from) ? from : null, isPlainObject(to) ? to : null, policy, `${path}.`),
      );
      continue;
    }
    if (same(from, to)) continue;
    if (policy.secret?.includes(path)) {
      changes[path] = { from: from == null ? null : REDACTED, to: to == null ? null : REDACTED };
    } else if (policy.personal?.includes(path)) {
      changes[path] = { from: maskPersonal(from), to: maskPersonal(to) };
    } else {
      changes[path] = { from: from ?? null, to: to ?? null };
    }
    if (policy.restricted?.includes(path)) changes[path] = { ...changes[path], restricted: true } as Changes[string];
  }
  return changes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
