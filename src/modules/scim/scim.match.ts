import type { CompareOperator, FilterNode, FilterValue } from "../search/filter.parser";

/**
 * Evaluates a parsed SCIM filter against one JSON object in memory: the entries of a multi-valued attribute
 * (`emails[type eq "work"]` in a PATCH path) and the few Groups a tenant has. Attribute names are
 * case-insensitive; strings compare case-insensitively (RFC 7643 §2.2: caseExact is false for every attribute
 * this is used on); a multi-valued attribute matches when one of its values does (RFC 7644 §3.4.2.2).
 */
export function matches(node: FilterNode, object: Record<string, unknown>): boolean {
  switch (node.type) {
    case "and":
      return matches(node.left, object) && matches(node.right, object);
    case "or":
      return matches(node.left, object) || matches(node.right, object);
    case "not":
      return !matches(node.filter, object);
    case "present":
      return valuesAt(object, node.attribute).some((v) => v !== "" && !(Array.isArray(v) && v.length === 0));
    case "compare":
      if (node.op === "ne") return !valuesAt(object, node.attribute).some((v) => compare(v, "eq", node.value));
      if (node.value === null) return node.op === "eq" && valuesAt(object, node.attribute).length === 0;
      return valuesAt(object, node.attribute).some((v) => compare(v, node.op, node.value));
    case "valuePath": {
      const entries = valuesAt(object, node.attribute).filter(isObject);
      return entries.some((entry) => matches(node.filter, entry));
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function member(object: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : object[key];
}

/** The non-null values at a dotted path; arrays contribute each element (`emails.value`). */
function valuesAt(object: Record<string, unknown>, path: string): unknown[] {
  let current: unknown[] = [object];
  for (const part of path.split(".")) {
    current = current.flatMap((value) => {
      if (!isObject(value)) return [];
      const next = member(value, part);
      if (next === undefined || next === null) return [];
      return Array.isArray(next) ? next : [next];
    });
  }
  return current.filter((v) => v !== null && v !== undefined);
}

function compare(actual: unknown, op: CompareOperator, expected: FilterValue): boolean {
  if (typeof actual === "string" && typeof expected === "string") {
    const a = actual.toLowerCase();
    const b = expected.toLowerCase();
    switch (op) {
      case "eq":
        return a === b;
      case "co":
        return a.includes(b);
      case "sw":
        return a.startsWith(b);
      case "ew":
        return a.endsWith(b);
      case "gt":
        return a > b;
      case "ge":
        return a >= b;
      case "lt":
        return a < b;
      case "le":
        return a <= b;
      default:
        return false;
    }
  }
  if (typeof actual === "number" && typeof expected === "number") {
    if (op === "eq") return actual === expected;
    if (op === "gt") return actual > expected;
    if (op === "ge") return actual >= expected;
    if (op === "lt") return actual < expected;
    if (op === "le") return actual <= expected;
    return false;
  }
  return op === "eq" && actual === expected;
}
