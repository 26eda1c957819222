import { FilterCompileError } from "./filter.errors";
import type { CompareOperator, FilterNode, FilterValue } from "./filter.parser";

/**
 * Compiles a parsed SCIM filter (RFC 7644 §3.4.2.2) to a parameterised SQLite/D1 `WHERE` fragment.
 * Client values only ever travel as `?` parameters; the only SQL text that comes from outside this file is the
 * catalogue's `column` expressions, which are trusted (written by us, never by the client).
 */

export type FilterAttributeType = "string" | "number" | "boolean" | "datetime" | "stringArray";

export interface FilterAttribute {
  /** Trusted SQL expression, e.g. `u.status` or `json_extract(u.attributes, '$.department')`. */
  column: string;
  type: FilterAttributeType;
  filterable: boolean;
  /** RFC 7643 §2.2: string comparisons ignore case unless the attribute is `caseExact`. */
  caseExact?: boolean;
  /**
   * The column holds lower-cased values (e.g. `username_normalized`): compared with `lower(?)` under the column's
   * own (binary) collation, so its index serves case-insensitive comparisons.
   */
  folded?: boolean;
  /**
   * Compiles comparisons itself (e.g. email, matched through a keyed index rather than its encrypted column);
   * `bind` adds a parameter and returns its placeholder. `pr` and `eq null` still use `column`.
   */
  compare?: (
    op: Exclude<CompareOperator, "ne">,
    value: string | number | boolean,
    bind: (value: unknown) => string,
  ) => string;
}

/** Keyed by lower-cased attribute path: attribute names are case-insensitive (RFC 7643 §2.1). */
export type FilterCatalogue = Readonly<Record<string, FilterAttribute>>;

export interface CompileOptions {
  /** Epoch milliseconds that relative times such as `now-30d` are resolved against. */
  now: number;
  /** D1 allows 100 bound parameters per statement; lower it when the caller binds its own too. */
  maxParams?: number;
}

export interface CompiledFilter {
  sql: string;
  params: unknown[];
}

export const D1_MAX_PARAMS = 100;

interface Context {
  catalogue: FilterCatalogue;
  now: number;
  maxParams: number;
  params: unknown[];
}

type Leaf = { attribute: string; spec: FilterAttribute };

const RELATIVE_TIME = /^now(?:([+-])([0-9]{1,7})([dhm]))?$/i;
// RFC 3339 §5.6 date-time (and a bare full-date, read as midnight UTC).
const RFC3339 =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2}))?$/;
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
const ORDER_SQL: Partial<Record<CompareOperator, string>> = { eq: "=", gt: ">", ge: ">=", lt: "<", le: "<=" };

/** Compiles a filter tree; throws only `FilterCompileError`. */
export function compileFilter(node: FilterNode, catalogue: FilterCatalogue, options: CompileOptions): CompiledFilter {
  const context: Context = { catalogue, now: options.now, maxParams: options.maxParams ?? D1_MAX_PARAMS, params: [] };
  try {
    return { sql: compileNode(node, context), params: context.params };
  } catch (error) {
    if (error instanceof FilterCompileError) throw error;
    throw new FilterCompileError("Filter could not be compiled", "");
  }
}

function compileNode(node: FilterNode, context: Context): string {
  switch (node.type) {
    case "and":
    case "or":
      return `(${compileNode(node.left, context)} ${node.type.toUpperCase()} ${compileNode(node.right, context)})`;
    case "not":
      return negate(compileNode(node.filter, context));
    case "present":
      return presentSql(resolve(node.attribute, context));
    case "compare":
      return compileComparison(resolve(node.attribute, context), node.op, node.value, context);
    case "valuePath":
      throw new FilterCompileError(`Value path filters are not supported (on "${node.attribute}")`, node.attribute);
  }
}

/**
 * SQL is three-valued (an absent column makes `col = ?` NULL, and `NOT NULL` is NULL), but a SCIM filter is
 * two-valued: a comparison on an unassigned attribute is simply false, so its negation is true. Folding NULL to
 * false under every `not` restores that; and/or need no fold because a WHERE clause already drops NULL rows.
 */
function negate(sql: string): string {
  return `NOT coalesce(${sql}, 0)`;
}

function resolve(attribute: string, context: Context): Leaf {
  const key = attribute.toLowerCase();
  // hasOwn, so that paths such as "constructor" never reach Object.prototype.
  const spec = Object.hasOwn(context.catalogue, key) ? context.catalogue[key] : undefined;
  if (spec === undefined) {
    const kind = key.startsWith("attributes.") ? "custom attribute" : "attribute";
    throw new FilterCompileError(`Unknown ${kind} "${attribute}"`, attribute);
  }
  if (!spec.filterable) throw new FilterCompileError(`Attribute "${attribute}" is not filterable`, attribute);
  return { attribute, spec };
}

/** `pr`: assigned and not empty — RFC 7643 §2.5 treats null, "" and [] alike as unassigned. */
function presentSql({ spec }: Leaf): string {
  if (spec.type === "stringArray") return `coalesce(json_array_length(${spec.column}), 0) > 0`;
  if (spec.type === "string") return `(${spec.column} IS NOT NULL AND ${spec.column} <> '')`;
  return `${spec.column} IS NOT NULL`;
}

function compileComparison(leaf: Leaf, op: CompareOperator, value: FilterValue, context: Context): string {
  // `ne` is defined as the negation of `eq`, so it also matches users on whom the attribute is unassigned.
  if (op === "ne") return negate(compileComparison(leaf, "eq", value, context));
  if (value === null) {
    if (op === "eq") return negate(presentSql(leaf));
    throw mismatch(leaf, `Operator "${op}" cannot compare with null`);
  }
  if (leaf.spec.compare) return leaf.spec.compare(op, value, (bound) => bind(context, bound, leaf));
  switch (leaf.spec.type) {
    case "string":
      return stringPredicate(leaf, leaf.spec.column, op, expectString(leaf, value), context);
    case "stringArray":
      return arrayPredicate(leaf, op, expectString(leaf, value), context);
    case "number":
      return orderedPredicate(leaf, op, expectNumber(leaf, value), context);
    case "datetime":
      requireOrdered(leaf, op);
      return orderedPredicate(leaf, op, resolveDateTime(leaf, expectString(leaf, value), context.now), context);
    case "boolean":
      if (op !== "eq") throw mismatch(leaf, `Operator "${op}" is not supported on a boolean attribute`);
      return `${leaf.spec.column} = ${bind(context, expectBoolean(leaf, value) ? 1 : 0, leaf)}`;
  }
}

function stringPredicate(leaf: Leaf, column: string, op: CompareOperator, value: string, context: Context): string {
  const caseExact = leaf.spec.caseExact === true;
  const folded = !caseExact && leaf.spec.folded === true && column === leaf.spec.column;
  const order = ORDER_SQL[op];
  const param = () => (caseExact ? bind(context, value, leaf) : `lower(${bind(context, value, leaf)})`);
  if (order !== undefined) {
    if (folded) return `${column} ${order} ${param()}`;
    // NOCASE (ASCII folding, like lower()) keeps eq and range comparisons able to use a NOCASE index.
    return `${column} ${order} ${bind(context, value, leaf)}${caseExact ? "" : " COLLATE NOCASE"}`;
  }
  // instr/substr rather than LIKE: D1 caps LIKE patterns at 50 bytes and LIKE needs wildcard escaping.
  const subject = caseExact || folded ? column : `lower(${column})`;
  if (op === "co") return `instr(${subject}, ${param()}) > 0`;
  if (op === "sw") return `instr(${subject}, ${param()}) = 1`;
  // Every string ends with "", but substr(x, -0) would return the whole string.
  if (value === "") return `${column} IS NOT NULL`;
  return `substr(${subject}, -length(${bind(context, value, leaf)})) = ${param()}`;
}

/** A JSON array of strings (e.g. roles): true when some element matches, as for multi-valued attributes. */
function arrayPredicate(leaf: Leaf, op: CompareOperator, value: string, context: Context): string {
  if (op !== "eq" && op !== "co" && op !== "sw" && op !== "ew") {
    throw mismatch(leaf, `Operator "${op}" is not supported on a multi-valued attribute`);
  }
  const element = stringPredicate(leaf, "je.value", op, value, context);
  return `EXISTS (SELECT 1 FROM json_each(${leaf.spec.column}) AS je WHERE ${element})`;
}

function orderedPredicate(leaf: Leaf, op: CompareOperator, value: number | string, context: Context): string {
  return `${leaf.spec.column} ${requireOrdered(leaf, op)} ${bind(context, value, leaf)}`;
}

/** Numbers and datetimes support eq and the ordering operators, not the substring ones. */
function requireOrdered(leaf: Leaf, op: CompareOperator): string {
  const order = ORDER_SQL[op];
  if (order === undefined) throw mismatch(leaf, `Operator "${op}" is not supported on a ${leaf.spec.type} attribute`);
  return order;
}

/** Datetimes are stored as `Date.toISOString()` text, so the bound value is normalised to the same form. */
function resolveDateTime(leaf: Leaf, text: string, now: number): string {
  const relative = RELATIVE_TIME.exec(text);
  let millis = Number.NaN;
  if (relative) {
    const [, sign, amount, unit] = relative;
    const offset = sign === undefined ? 0 : Number(amount) * (UNIT_MS[(unit ?? "").toLowerCase()] ?? 0);
    millis = sign === "-" ? now - offset : now + offset;
  } else if (RFC3339.test(text)) {
    millis = Date.parse(text.replace(" ", "T"));
  }
  const date = new Date(millis);
  if (Number.isNaN(date.getTime())) {
    throw mismatch(leaf, `Attribute "${leaf.attribute}" expects an RFC 3339 date-time or now±N(d|h|m)`);
  }
  return date.toISOString();
}

function bind(context: Context, value: unknown, leaf: Leaf): string {
  if (context.params.length >= context.maxParams) {
    throw new FilterCompileError(`Filter needs more than ${context.maxParams} bound parameters`, leaf.attribute);
  }
  context.params.push(value);
  return "?";
}

function expectString(leaf: Leaf, value: FilterValue): string {
  if (typeof value !== "string") throw mismatch(leaf, `Attribute "${leaf.attribute}" expects a string value`);
  return value;
}

function expectNumber(leaf: Leaf, value: FilterValue): number {
  if (typeof value !== "number") throw mismatch(leaf, `Attribute "${leaf.attribute}" expects a number value`);
  return value;
}

function expectBoolean(leaf: Leaf, value: FilterValue): boolean {
  if (typeof value !== "boolean") throw mismatch(leaf, `Attribute "${leaf.attribute}" expects true or false`);
  return value;
}

function mismatch(leaf: Leaf, message: string): FilterCompileError {
  const text = message.includes(`"${leaf.attribute}"`) ? message : `${message} ("${leaf.attribute}")`;
  return new FilterCompileError(text, leaf.attribute);
}
