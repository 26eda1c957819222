import { RE2JS } from "re2js";
import { type AstNode, parse } from "regjsparser";

/**
 * User-defined `pattern`s (issue 4 §1: "cannot hang the worker"). Two defences:
 * - values are matched by RE2JS, a linear-time engine, so no pattern can backtrack exponentially;
 * - catastrophic shapes are refused when the field is defined anyway — a nested unbounded quantifier such as
 *   `(a+)+$` or `(\w+\s?)*` — because clients also run the pattern (JavaScript `RegExp`, which backtracks) and
 *   would hang on them.
 * Patterns must parse both as ECMAScript (with the `u` flag) and as RE2: no backreferences, no lookaround.
 */

export const MAX_PATTERN_LENGTH = 500;

/** Why `pattern` is refused, or null when it is fine. */
export function patternProblem(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_LENGTH) return `A pattern may have at most ${MAX_PATTERN_LENGTH} characters.`;
  let ast: AstNode;
  try {
    new RegExp(pattern, "u");
    // the walk below only looks at quantifiers and bodies, which every node variant shares
    ast = parse(pattern, "u", { unicodePropertyEscape: true, namedGroups: true }) as unknown as AstNode;
  } catch (error) {
    return `Not a valid regular expression: ${error instanceof Error ? error.message : String(error)}.`;
  }
  try {
    RE2JS.compile(pattern);
  } catch {
    return "Backreferences and lookaround are not supported: patterns run on a linear-time (RE2) engine.";
  }
  if (hasNestedUnboundedQuantifier(ast, false)) {
    return "The pattern nests unbounded quantifiers (like (a+)+), which backtracking engines take exponential time on.";
  }
  return null;
}

const compiled = new Map<string, RE2JS>();

/** Whether `value` matches `pattern` somewhere (anchor with ^…$ for a whole-value match), in linear time. */
export function matchesPattern(pattern: string, value: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = RE2JS.compile(pattern);
    if (compiled.size >= 500) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex.test(value);
}

/**
 * True when an unbounded quantifier (`*`, `+`, `{n,}`) sits inside a quantifier that repeats (`(a+)+`, `(.*a){12}`):
 * the shape behind exponential and high-degree polynomial backtracking. `(\d{3}-){2}` stays allowed.
 */
function hasNestedUnboundedQuantifier(node: AstNode, insideRepeat: boolean): boolean {
  if (node.type === "quantifier") {
    if (node.max === undefined && insideRepeat) return true;
    const repeats = node.max === undefined || node.max > 1;
    return node.body.some((child) => hasNestedUnboundedQuantifier(child, insideRepeat || repeats));
  }
  if ("body" in node && Array.isArray(node.body)) {
    return (node.body as AstNode[]).some((child) => hasNestedUnboundedQuantifier(child, insideRepeat));
  }
  return false;
}
