import { ApiError } from "../../core/errors";
import { type CompiledFilter, compileFilter, type FilterCatalogue } from "../search/filter.compiler";
import { FilterCompileError, FilterSyntaxError } from "../search/filter.errors";
import { type CompareOperator, type FilterNode, parseFilter, walkFilter } from "../search/filter.parser";
import { gramsMatch } from "../search/fulltext.query";
import type { GramHasher } from "../search/keyed-grams";
import { UserErrors } from "./users.errors";
import { normalizeEmail } from "./users.mapping";
import { contactHashers, emailIndex, normalizePhone, phoneIndex, type UserStore } from "./users.pii";

/**
 * `GET /v1/users?filter=`: the SCIM filter grammar over the user's fields (API.md, "Filter expressions").
 * Columns are named `users.<column>` so that the fragment can run inside joins.
 */
const BUILT_IN: FilterCatalogue = {
  id: { column: "users.id", type: "string", filterable: true, caseExact: true },
  externalid: { column: "users.external_id", type: "string", filterable: true, caseExact: true },
  status: { column: "users.status", type: "string", filterable: true },
  username: { column: "users.username_normalized", type: "string", filterable: true, folded: true },
  name: { column: "users.name", type: "string", filterable: true },
  roles: { column: "users.roles", type: "stringArray", filterable: true, caseExact: true },
  createdat: { column: "users.created_at", type: "datetime", filterable: true },
  updatedat: { column: "users.updated_at", type: "datetime", filterable: true },
  lastloginat: { column: "users.last_login_at", type: "datetime", filterable: true },
  lastactiveat: { column: "users.last_active_at", type: "datetime", filterable: true },
  logincount: { column: "users.login_count", type: "number", filterable: true },
  deletedat: { column: "users.deleted_at", type: "datetime", filterable: true },
  "mfa.totp": { column: "users.mfa_totp", type: "boolean", filterable: true },
  emailverified: { column: "(users.email_verified_at IS NOT NULL)", type: "boolean", filterable: true },
  // a learned segment's membership; saved segments are replaced by their own filter before compiling
  // (segments.filter.ts, expandSegments), so only `learned:` names may remain here
  segment: {
    column: "users.id",
    type: "string",
    filterable: true,
    compare: (op, value, bind) => {
      if (op !== "eq" || typeof value !== "string" || !value.startsWith("learned:")) {
        throw new FilterCompileError(`Segment ${JSON.stringify(value)} cannot be used here`, "segment");
      }
      return `users.id IN (SELECT user_id FROM learned_segment_members WHERE segment = ${bind(value)})`;
    },
  },
};

/**
 * Email and phone are stored encrypted: exact matches go through their blind indexes, `co`/`sw`/`ew` through
 * their keyed n-grams in `users_grams` (both computed beforehand, so that compiling stays synchronous).
 */
const SEALED = {
  email: { column: "users.email_bidx", index: emailIndex, hasher: "email", normalize: normalizeEmail },
  phone: { column: "users.phone_bidx", index: phoneIndex, hasher: "phone", normalize: normalizePhone },
} as const;

type PartOperator = "co" | "sw" | "ew";
const PART_OPERATORS: ReadonlySet<CompareOperator> = new Set(["co", "sw", "ew"]);

export type SealedAttribute = keyof typeof SEALED;

/** Parses `text`, or answers 400 INVALID_FILTER with the position where it stopped. */
export function parseUserFilter(text: string): FilterNode {
  try {
    return parseFilter(text);
  } catch (error) {
    if (!(error instanceof FilterSyntaxError)) throw error;
    throw invalidFilter(error.message, { position: error.position });
  }
}

/**
 * Compiles a parsed filter against the built-in fields and `attributes` (the tenant's filterable custom fields,
 * keyed `attributes.<name>` in lower case), or answers 400 INVALID_FILTER naming the attribute.
 */
export async function compileUserFilter(
  store: UserStore,
  tree: FilterNode,
  options: { attributes?: FilterCatalogue; now: number; maxParams: number },
): Promise<CompiledFilter> {
  const catalogue: Record<string, FilterCatalogue[string]> = { ...BUILT_IN, ...options.attributes };
  const hashers = await contactHashers(store);
  for (const [name, { column, index, hasher, normalize }] of Object.entries(SEALED)) {
    const tokens = await sealedTokens(tree, name, (value) => index(store, value));
    const parts = await partTokens(tree, name, (value) => normalize(value), hashers[hasher]);
    catalogue[name] = {
      column,
      type: "string",
      filterable: true,
      compare: (op, value, bind) => {
        if (typeof value === "string" && PART_OPERATORS.has(op)) {
          const match = gramsMatch("contact", [parts.get(partKey(op as PartOperator, value)) ?? []]);
          if (match === null) {
            const least = op === "co" ? 3 : 2;
            throw new FilterCompileError(`"${name} ${op}" needs a value of at least ${least} characters`, name);
          }
          return `users.rowid IN (SELECT rowid FROM users_grams WHERE users_grams MATCH ${bind(match)})`;
        }
        const token = typeof value === "string" ? tokens.get(value) : undefined;
        if (op !== "eq" || token === undefined) {
          throw new FilterCompileError(
            `"${name}" is stored encrypted: it supports eq, ne, co, sw, ew and pr with a string value`,
            name,
          );
        }
        return `${column} = ${bind(token)}`;
      },
    };
  }
  try {
    return compileFilter(tree, catalogue, { now: options.now, maxParams: options.maxParams });
  } catch (error) {
    if (!(error instanceof FilterCompileError)) throw error;
    throw invalidFilter(error.message, error.attribute ? { attribute: error.attribute } : {});
  }
}

function partKey(op: PartOperator, value: string): string {
  return `${op}\u0000${value}`;
}

/**
 * The keyed n-gram tokens of every `co`/`sw`/`ew` value `tree` gives `attribute`, keyed by `partKey`: the
 * value's own trigrams, anchored at the start (`sw`) or the end (`ew`) through the boundary mark. Values too short
 * for a trigram get no entry.
 */
async function partTokens(
  tree: FilterNode,
  attribute: string,
  normalize: (value: string) => string,
  hasher: GramHasher,
): Promise<Map<string, string[]>> {
  const wanted: [string, PartOperator, string][] = [];
  walkFilter(tree, (node) => {
    if (node.type !== "compare" || node.attribute.toLowerCase() !== attribute) return;
    if (typeof node.value === "string" && PART_OPERATORS.has(node.op)) {
      wanted.push([partKey(node.op as PartOperator, node.value), node.op as PartOperator, node.value]);
    }
  });
  const tokens = await Promise.all(
    wanted.map(([, op, value]) => hasher.fragmentTokens(normalize(value), { start: op === "sw", end: op === "ew" })),
  );
  return new Map(wanted.flatMap(([key], i) => (tokens[i] ? [[key, tokens[i]] as const] : [])));
}

/** The blind index of every string `tree` compares `attribute` with, so that compiling can stay synchronous. */
async function sealedTokens(
  tree: FilterNode,
  attribute: string,
  token: (value: string) => Promise<string>,
): Promise<Map<string, string>> {
  const values = new Set<string>();
  walkFilter(tree, (node) => {
    if (node.type === "compare" && node.attribute.toLowerCase() === attribute) {
      // `ne` compiles as the negation of `eq`
      if (typeof node.value === "string" && (node.op === "eq" || node.op === "ne")) values.add(node.value);
    }
  });
  const list = [...values];
  const tokens = await Promise.all(list.map(token));
  return new Map(list.map((value, i) => [value, tokens[i] as string]));
}

function invalidFilter(detail: string, extensions: Record<string, unknown>): ApiError {
  return new ApiError(UserErrors.INVALID_FILTER, {
    detail,
    errors: [{ field: "filter", code: UserErrors.INVALID_FILTER, detail }],
    extensions,
  });
}
