import { ApiError } from "../../core/errors";
import type { FilterNode } from "../search/filter.parser";
import { walkFilter } from "../search/filter.parser";
import { UserErrors } from "../users/users.errors";
import { resolveNames } from "./segments.repo";
import { LEARNED_PREFIX } from "./segments.schema";

/**
 * `segment eq "<name>"` in a users filter (docs/segments.md). Compiling a filter is synchronous, so segment names are
 * resolved beforehand, in one query: a saved segment's leaf is replaced by its own filter's tree (`ne` by its
 * negation), so the field-permission checks and the compiler see what it really filters on; a learned segment's
 * leaf stays, and compiles to its membership (users.filter.ts). Saved filters never name a segment (refused on
 * write), so one pass resolves everything.
 */

export const SEGMENT_ATTRIBUTE = "segment";

/** The users filter of a segment: what reports and notifications pass as their audience (or GET /v1/users). */
export function segmentFilter(name: string): string {
  return `${SEGMENT_ATTRIBUTE} eq ${JSON.stringify(name)}`;
}

export function isSegmentLeaf(node: FilterNode): boolean {
  return (node.type === "compare" || node.type === "present") && node.attribute.toLowerCase() === SEGMENT_ATTRIBUTE;
}

export function invalidSegmentFilter(detail: string, extensions: Record<string, unknown> = {}): ApiError {
  return new ApiError(UserErrors.INVALID_FILTER, {
    detail,
    errors: [{ field: "filter", code: UserErrors.INVALID_FILTER, detail }],
    extensions: { attribute: SEGMENT_ATTRIBUTE, ...extensions },
  });
}

/** The segment names `tree` compares with (only `eq`/`ne` with a string are allowed). */
function namedSegments(tree: FilterNode): Set<string> {
  const names = new Set<string>();
  walkFilter(tree, (node) => {
    if (!isSegmentLeaf(node)) return;
    if (node.type !== "compare" || (node.op !== "eq" && node.op !== "ne") || typeof node.value !== "string") {
      throw invalidSegmentFilter('"segment" supports only eq and ne with a segment name, e.g. segment eq "at-risk"');
    }
    names.add(node.value);
  });
  return names;
}

/** `tree` with every saved segment replaced by its filter; 400 INVALID_FILTER naming a segment that does not exist. */
export async function expandSegments(
  db: D1Database,
  tree: FilterNode,
  parse: (text: string) => FilterNode,
): Promise<FilterNode> {
  const names = namedSegments(tree);
  if (names.size === 0) return tree;
  const found = await resolveNames(db, [...names]);
  const missing = [...names].filter((name) => !found.has(name));
  if (missing.length > 0) {
    const hint = missing.some((name) => !name.startsWith(LEARNED_PREFIX))
      ? ""
      : " (learned segments exist once the tenant has been retrained: POST /v1/segments/learned/retrain)";
    throw invalidSegmentFilter(`Unknown segment ${missing.map((n) => JSON.stringify(n)).join(", ")}${hint}`, {
      segments: missing,
    });
  }
  const saved = new Map<string, FilterNode>();
  for (const [name, { filter }] of found) if (filter !== null) saved.set(name, parse(filter));
  return replace(tree, saved);
}

function replace(node: FilterNode, saved: ReadonlyMap<string, FilterNode>): FilterNode {
  switch (node.type) {
    case "and":
    case "or":
      return { ...node, left: replace(node.left, saved), right: replace(node.right, saved) };
    case "not":
      return { ...node, filter: replace(node.filter, saved) };
    case "compare": {
      const own = isSegmentLeaf(node) && typeof node.value === "string" ? saved.get(node.value) : undefined;
      if (!own) return node;
      return node.op === "ne" ? { type: "not", filter: own } : own;
    }
    default:
      return node;
  }
}
