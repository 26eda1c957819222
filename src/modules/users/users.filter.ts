import { ApiError } from "../../core/errors";
import { type CompiledFilter, compileFilter, type FilterCatalogue } from "../search/filter.compiler";
import { FilterCompileError, FilterSyntaxError } from "../search/filter.errors";
import { type FilterNode, parseFilter } from "../search/filter.parser";
import { UserErrors } from "./users.errors";
import { emailIndex, phoneIndex, type UserStore } from "./users.pii";

/**
 * `GET /v1/users?filter=`: the SCIM filter grammar over the user's fields (API.md, "Filter expressions").
 * Columns are named `users.<column>` so that the fragment can run inside joins.
 */
const BUILT_IN: FilterCatalogue = {
  id: { column: "users.id", type: "string", filterable: true, caseExact: true },
  status: { column: "users.status", type: "string", filterable: true },
  username: { column: "users.username_normalized", type: "string", filterable: true, folded: true },
  name: { column: "users.name", type: "string", filterable: true },
  roles: { column: "users.roles", type: "stringArray", filterable: true, caseExact: true },
  createdat: { column: "users.created_at", type: "datetime", filterable: true },
  updatedat: { column: "users.updated_at", type: "datetime", filterable: true },
  lastloginat: { column: "users.last_login_at", type: "datetime", filterable: true },
  deletedat: { column: "users.deleted_at", type: "datetime", filterable: true },
  "mfa.totp": { column: "users.mfa_totp", type: "boolean", filterable: true },
  emailverified: { column: "(users.email_verified_at IS NOT NULL)", type: "boolean", filterable: true },
};

/** Email and phone are stored encrypted: exact matches go through their blind indexes (computed beforehand). */
const SEALED = {
  email: { column: "users.email_bidx", index: emailIndex },
  phone: { column: "users.phone_bidx", index: phoneIndex },
};

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
  for (const [name, { column, index }] of Object.entries(SEALED)) {
    const tokens = await sealedTokens(tree, name, (value) => index(store, value));
    catalogue[name] = {
      column,
      type: "string",
      filterable: true,
      compare: (op, value, bind) => {
        const token = typeof value === "string" ? tokens.get(value) : undefined;
        if (op !== "eq" || token === undefined) {
          throw new FilterCompileError(
            `"${name}" is stored encrypted: it supports eq, ne and pr with a string value`,
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

/** The blind index of every string `tree` compares `attribute` with, so that compiling can stay synchronous. */
async function sealedTokens(
  tree: FilterNode,
  attribute: string,
  token: (value: string) => Promise<string>,
): Promise<Map<string, string>> {
  const values = new Set<string>();
  const visit = (node: FilterNode): void => {
    if (node.type === "and" || node.type === "or") {
      visit(node.left);
      visit(node.right);
    } else if (node.type === "not") {
      visit(node.filter);
    } else if (node.type === "compare" && node.attribute.toLowerCase() === attribute) {
      if (typeof node.value === "string") values.add(node.value);
    }
  };
  visit(tree);
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
