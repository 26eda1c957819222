import { FilterSyntaxError } from "./filter.errors";

/**
 * SCIM 2.0 filter parser (RFC 7644 §3.4.2.2). Produces a small tree that `compileFilter` turns into SQL.
 * Precedence is the RFC's: `not` binds tighter than `and`, which binds tighter than `or`; `and`/`or` are
 * left-associative. Every failure is a `FilterSyntaxError` carrying the 0-based offset where parsing stopped.
 */

export const COMPARE_OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] as const;
export type CompareOperator = (typeof COMPARE_OPERATORS)[number];
export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { type: "compare"; attribute: string; op: CompareOperator; value: FilterValue; position: number }
  | { type: "present"; attribute: string; position: number }
  | { type: "and" | "or"; left: FilterNode; right: FilterNode }
  | { type: "not"; filter: FilterNode }
  | { type: "valuePath"; attribute: string; filter: FilterNode; position: number };

export const FILTER_LIMITS = { maxLength: 2_000, maxDepth: 20, maxComparisons: 50 } as const;

type Token =
  | { kind: "word"; text: string; position: number }
  | { kind: "string"; value: string; position: number }
  | { kind: "number"; value: number; position: number }
  | { kind: "(" | ")" | "[" | "]" | "end"; position: number };

// ":" for schema-qualified paths (`urn:ietf:params:scim:schemas:core:2.0:User:userName`); it has no other use
const WORD = /[A-Za-z0-9_.:$-]+/y;
// JSON number grammar (RFC 8259 §6), which RFC 7644 §3.4.2.2 uses for compValue.
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// attrPath = [URI ":"] ATTRNAME *1subAttr (RFC 7644 §3.10); ATTRNAME = ALPHA *(nameChar) (RFC 7643 §2.1);
// sub-attributes are joined with ".". The URI is a schema URN; it stays in the path for the caller to resolve.
const ATTRIBUTE_PATH =
  /^(?:urn:[A-Za-z0-9._-]+(?::[A-Za-z0-9._-]+)*:)?[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*$/i;
const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
const OPERATOR_SET: ReadonlySet<string> = new Set(COMPARE_OPERATORS);

/** Calls `visit` on every node of a filter tree, parents before their children. */
export function walkFilter(node: FilterNode, visit: (node: FilterNode) => void): void {
  visit(node);
  if (node.type === "and" || node.type === "or") {
    walkFilter(node.left, visit);
    walkFilter(node.right, visit);
  } else if (node.type === "not" || node.type === "valuePath") {
    walkFilter(node.filter, visit);
  }
}

/** Parses a SCIM filter expression; throws only `FilterSyntaxError`. */
export function parseFilter(text: string): FilterNode {
  if (typeof text !== "string") throw new FilterSyntaxError("Expected the filter to be a string", 0);
  if (text.length > FILTER_LIMITS.maxLength) {
    throw new FilterSyntaxError(`Filter is longer than ${FILTER_LIMITS.maxLength} characters`, FILTER_LIMITS.maxLength);
  }
  try {
    return new Parser(tokenize(text)).parseAll();
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw error;
    // A RangeError from an unforeseen deep recursion must still reach the client as a 400, never a 500.
    throw new FilterSyntaxError("Filter could not be parsed", 0);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "(" || ch === ")" || ch === "[" || ch === "]") {
      tokens.push({ kind: ch, position: i });
      i++;
    } else if (ch === '"') {
      const { value, end } = readString(text, i);
      tokens.push({ kind: "string", value, position: i });
      i = end;
    } else if (ch === "-" || (ch >= "0" && ch <= "9")) {
      const { value, end } = readNumber(text, i);
      tokens.push({ kind: "number", value, position: i });
      i = end;
    } else if (/[A-Za-z_$]/.test(ch)) {
      WORD.lastIndex = i;
      const word = WORD.exec(text)?.[0] ?? ch;
      tokens.push({ kind: "word", text: word, position: i });
      i += word.length;
    } else {
      throw new FilterSyntaxError(`Unexpected character ${JSON.stringify(ch)}`, i);
    }
  }
  tokens.push({ kind: "end", position: text.length });
  return tokens;
}

function readNumber(text: string, start: number): { value: number; end: number } {
  NUMBER.lastIndex = start;
  const match = NUMBER.exec(text)?.[0];
  if (match === undefined) throw new FilterSyntaxError("Expected a number", start);
  const value = Number(match);
  if (!Number.isFinite(value)) throw new FilterSyntaxError("Number is out of range", start);
  return { value, end: start + match.length };
}

/** A JSON string literal (RFC 8259 §7), as RFC 7644 §3.4.2.2 requires for string compValues. */
function readString(text: string, start: number): { value: string; end: number } {
  let value = "";
  let i = start + 1;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (ch === '"') return { value, end: i + 1 };
    if (ch < " ") throw new FilterSyntaxError("Control characters must be escaped in a string", i);
    if (ch !== "\\") {
      value += ch;
      i++;
      continue;
    }
    const escaped = text.charAt(i + 1);
    const simple = SIMPLE_ESCAPES[escaped];
    if (simple !== undefined) {
      value += simple;
      i += 2;
    } else if (escaped === "u" && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
      value += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
      i += 6;
    } else {
      throw new FilterSyntaxError("Invalid escape sequence in string", i);
    }
  }
  throw new FilterSyntaxError("Unterminated string", start);
}

class Parser {
  private index = 0;
  private depth = 0;
  private comparisons = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseAll(): FilterNode {
    const node = this.parseOr(false);
    const next = this.peek();
    if (next.kind !== "end") this.fail(next.kind === ")" ? 'Unbalanced ")"' : 'Expected "and", "or" or end of filter');
    return node;
  }

  private parseOr(inValuePath: boolean): FilterNode {
    let left = this.parseAnd(inValuePath);
    while (this.isKeyword(this.peek(), "or")) {
      this.index++;
      left = { type: "or", left, right: this.parseAnd(inValuePath) };
    }
    return left;
  }

  private parseAnd(inValuePath: boolean): FilterNode {
    let left = this.parseUnary(inValuePath);
    while (this.isKeyword(this.peek(), "and")) {
      this.index++;
      left = { type: "and", left, right: this.parseUnary(inValuePath) };
    }
    return left;
  }

  private parseUnary(inValuePath: boolean): FilterNode {
    const token = this.peek();
    if (token.kind === "(") return this.parseGroup(inValuePath);
    if (token.kind !== "word") return this.fail('Expected an attribute path, "not" or "("');
    if (this.isKeyword(token, "not") && !this.isOperatorWord(this.peekAt(1))) {
      this.index++;
      if (this.peek().kind !== "(") return this.fail('Expected "(" after "not"');
      return { type: "not", filter: this.parseGroup(inValuePath) };
    }
    return this.parseAttributeExpression(inValuePath);
  }

  /** `"(" FILTER ")"` — the parentheses only group; they leave no node behind. */
  private parseGroup(inValuePath: boolean): FilterNode {
    this.enter();
    this.index++;
    const inner = this.parseOr(inValuePath);
    this.expect(")", 'Expected "and", "or" or ")"');
    this.depth--;
    return inner;
  }

  private parseAttributeExpression(inValuePath: boolean): FilterNode {
    const pathToken = this.peek();
    const attribute = this.readAttributePath();
    if (this.peek().kind === "[") return this.parseValuePath(attribute, pathToken.position, inValuePath);
    const operatorToken = this.peek();
    if (operatorToken.kind !== "word" || !this.isOperatorWord(operatorToken)) {
      return this.fail("Expected an operator");
    }
    this.index++;
    this.countComparison(pathToken.position);
    const op = operatorToken.text.toLowerCase();
    if (op === "pr") return { type: "present", attribute, position: pathToken.position };
    return {
      type: "compare",
      attribute,
      op: op as CompareOperator,
      value: this.readValue(),
      position: pathToken.position,
    };
  }

  /** `attrPath "[" valFilter "]"` — RFC 7644 §3.4.2.2 forbids a value path inside another one. */
  private parseValuePath(attribute: string, position: number, inValuePath: boolean): FilterNode {
    if (inValuePath) return this.fail("Value paths cannot be nested");
    this.enter();
    this.index++;
    const filter = this.parseOr(true);
    this.expect("]", 'Expected "and", "or" or "]"');
    this.depth--;
    return { type: "valuePath", attribute, filter, position };
  }

  private readAttributePath(): string {
    const token = this.peek();
    if (token.kind !== "word") return this.fail("Expected an attribute path");
    if (!ATTRIBUTE_PATH.test(token.text)) return this.fail(`Invalid attribute path ${JSON.stringify(token.text)}`);
    this.index++;
    return token.text;
  }

  private readValue(): FilterValue {
    const token = this.peek();
    this.index++;
    if (token.kind === "string" || token.kind === "number") return token.value;
    if (token.kind === "word") {
      // ABNF literals are case-insensitive (RFC 5234 §2.3), so `True` and `NULL` are valid compValues.
      const word = token.text.toLowerCase();
      if (word === "true") return true;
      if (word === "false") return false;
      if (word === "null") return null;
    }
    this.index--;
    return this.fail("Expected a value (a string, number, true, false or null)");
  }

  private enter(): void {
    this.depth++;
    if (this.depth > FILTER_LIMITS.maxDepth) this.fail(`Filter nests deeper than ${FILTER_LIMITS.maxDepth} levels`);
  }

  private countComparison(position: number): void {
    this.comparisons++;
    if (this.comparisons > FILTER_LIMITS.maxComparisons) {
      throw new FilterSyntaxError(`Filter has more than ${FILTER_LIMITS.maxComparisons} comparisons`, position);
    }
  }

  private expect(kind: ")" | "]", message: string): void {
    if (this.peek().kind !== kind) this.fail(message);
    this.index++;
  }

  private isKeyword(token: Token, keyword: string): boolean {
    return token.kind === "word" && token.text.toLowerCase() === keyword;
  }

  private isOperatorWord(token: Token): boolean {
    if (token.kind !== "word") return false;
    const word = token.text.toLowerCase();
    return OPERATOR_SET.has(word) || word === "pr";
  }

  private peek(): Token {
    return this.peekAt(0);
  }

  private peekAt(offset: number): Token {
    const last = this.tokens[this.tokens.length - 1] ?? { kind: "end", position: 0 };
    return this.tokens[this.index + offset] ?? last;
  }

  private fail(message: string): never {
    throw new FilterSyntaxError(message, this.peek().position);
  }
}
