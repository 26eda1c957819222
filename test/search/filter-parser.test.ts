import fc from "fast-check";
import { type Filter, parse as referenceParse } from "scim2-parse-filter";
import { describe, expect, it } from "vitest";
import { compileFilter, type FilterCatalogue } from "../../src/modules/search/filter.compiler";
import { FilterCompileError, FilterSyntaxError } from "../../src/modules/search/filter.errors";
import { type FilterNode, parseFilter } from "../../src/modules/search/filter.parser";

/** Writes a tree back as a fully parenthesised string, so precedence is visible in one assertion. */
function show(node: FilterNode): string {
  switch (node.type) {
    case "and":
    case "or":
      return `(${show(node.left)} ${node.type} ${show(node.right)})`;
    case "not":
      return `not(${show(node.filter)})`;
    case "present":
      return `${node.attribute} pr`;
    case "compare":
      return `${node.attribute} ${node.op} ${JSON.stringify(node.value)}`;
    case "valuePath":
      return `${node.attribute}[${show(node.filter)}]`;
  }
}

const shown = (text: string) => show(parseFilter(text));

function syntaxError(text: string): FilterSyntaxError {
  try {
    parseFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parseFilter: grammar (RFC 7644 §3.4.2.2)", () => {
  it("parses every comparison operator and pr", () => {
    for (const op of ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]) {
      expect(parseFilter(`status ${op} "x"`)).toEqual({
        type: "compare",
        attribute: "status",
        op,
        value: "x",
        position: 0,
      });
    }
    expect(parseFilter("lastLoginAt pr")).toEqual({ type: "present", attribute: "lastLoginAt", position: 0 });
  });

  it("reads operators, logical keywords and literals case-insensitively, keeping the attribute as written", () => {
    expect(shown('Status EQ "a" AND Name.GivenName Pr OR NOT (x Ne TRUE)')).toBe(
      '((Status eq "a" and Name.GivenName pr) or not(x ne true))',
    );
    expect(shown("a eq False")).toBe("a eq false");
    expect(shown("a eq NULL")).toBe("a eq null");
  });

  it("parses dotted attribute paths", () => {
    expect(shown('attributes.department eq "Sales"')).toBe('attributes.department eq "Sales"');
    expect(shown('name.givenName sw "J"')).toBe('name.givenName sw "J"');
    expect(shown("a_b-c.d9 pr")).toBe("a_b-c.d9 pr");
  });

  it("gives not > and > or precedence, left-associative", () => {
    expect(shown("a pr or b pr and c pr")).toBe("(a pr or (b pr and c pr))");
    expect(shown("a pr and b pr or c pr")).toBe("((a pr and b pr) or c pr)");
    expect(shown("a pr and b pr and c pr")).toBe("((a pr and b pr) and c pr)");
    expect(shown("a pr or b pr or c pr")).toBe("((a pr or b pr) or c pr)");
    expect(shown("not (a pr) and b pr")).toBe("(not(a pr) and b pr)");
    expect(shown("a pr or not (b pr) and c pr")).toBe("(a pr or (not(b pr) and c pr))");
  });

  it("lets parentheses override precedence and nest", () => {
    expect(shown("(a pr or b pr) and c pr")).toBe("((a pr or b pr) and c pr)");
    expect(shown("a pr and (b pr or c pr)")).toBe("(a pr and (b pr or c pr))");
    expect(shown("((((a pr))))")).toBe("a pr");
    expect(shown("not(not (a eq 1))")).toBe("not(not(a eq 1))");
    expect(shown("not ((a pr) or (b pr))")).toBe("not((a pr or b pr))");
  });

  it("decodes JSON string escapes and numbers", () => {
    expect(parseFilter(String.raw`a eq "q\"b\\s\/n\n\t\u00e9\uD83D\uDE00"`)).toMatchObject({
      value: 'q"b\\s/n\n\té😀',
    });
    expect(parseFilter('a eq "x) or 1=1 --"')).toMatchObject({ value: "x) or 1=1 --" });
    expect(parseFilter("a eq -12.5e2")).toMatchObject({ value: -1250 });
    expect(parseFilter("a gt 0")).toMatchObject({ value: 0 });
    expect(parseFilter("a eq true")).toMatchObject({ value: true });
  });

  it("parses value paths", () => {
    expect(shown('emails[type eq "work" and value co "@x"]')).toBe('emails[(type eq "work" and value co "@x")]');
    expect(shown('emails[type eq "work"] or name pr')).toBe('(emails[type eq "work"] or name pr)');
  });

  it("treats 'not' as an attribute name when an operator follows it", () => {
    expect(shown('not eq "x"')).toBe('not eq "x"');
  });

  it("tolerates extra whitespace", () => {
    expect(shown('  \t( a   eq   "x" )\n')).toBe('a eq "x"');
  });
});

describe("parseFilter: errors carry the position and what was expected", () => {
  const cases: [string, number, RegExp][] = [
    ["", 0, /Expected an attribute path/],
    ["status", 6, /Expected an operator/],
    ['status "active"', 7, /Expected an operator/],
    ["status eq", 9, /Expected a value/],
    ["status eq active", 10, /Expected a value/],
    ['status eq "active', 10, /Unterminated string/],
    ['status eq "a\\qb"', 12, /Invalid escape/],
    ['(status eq "a"', 14, /Expected "and", "or" or "\)"/],
    ['status eq "a")', 13, /Unbalanced "\)"/],
    ['status eq "a" and', 17, /Expected an attribute path/],
    ['status eq "a" nand b pr', 14, /Expected "and", "or" or end of filter/],
    ["not status pr", 4, /Expected "\(" after "not"/],
    ['status eq "a" % 1', 14, /Unexpected character "%"/],
    ["status eq 1e999", 10, /out of range/],
    ['emails[type eq "w"', 18, /Expected "and", "or" or "\]"/],
    ["emails[x[y eq 1]]", 8, /cannot be nested/],
    ["9lives eq 1", 0, /Expected an attribute path/],
    ["name..first pr", 0, /Invalid attribute path/],
    ["a pr pr", 5, /Expected "and", "or" or end of filter/],
    ['a eq "tab\there"', 9, /Control characters/],
  ];

  it.each(cases)("%j → position %i", (text, position, message) => {
    const error = syntaxError(text);
    expect(error.position).toBe(position);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(new RegExp(`at position ${position}$`));
  });

  it("gives the documented message shape", () => {
    expect(syntaxError("status 'x'").message).toBe('Unexpected character "\'" at position 7');
    expect(syntaxError("status foo").message).toBe("Expected an operator at position 7");
  });

  it("enforces the length, depth and comparison limits", () => {
    expect(syntaxError(`a eq "${"x".repeat(2_000)}"`).message).toMatch(/longer than 2000/);
    expect(() => parseFilter(`${"(".repeat(20)}a pr${")".repeat(20)}`)).not.toThrow();
    const deep = syntaxError(`${"(".repeat(21)}a pr${")".repeat(21)}`);
    expect(deep.message).toMatch(/deeper than 20/);
    expect(deep.position).toBe(20);
    expect(syntaxError(`${"not (".repeat(21)}a pr${")".repeat(21)}`).message).toMatch(/deeper than 20/);
    const fifty = Array.from({ length: 50 }, (_, i) => `a${i} pr`).join(" or ");
    expect(() => parseFilter(fifty)).not.toThrow();
    const many = syntaxError(`${fifty} or z pr`);
    expect(many.message).toMatch(/more than 50 comparisons/);
    expect(many.position).toBe(fifty.length + 4);
  });

  it("rejects a non-string input with a FilterSyntaxError", () => {
    expect(() => parseFilter(undefined as unknown as string)).toThrow(FilterSyntaxError);
  });
});

describe("parseFilter: fuzz (fast-check)", () => {
  const catalogue: FilterCatalogue = {
    status: { column: "status", type: "string", filterable: true },
    n: { column: "n", type: "number", filterable: true },
    createdat: { column: "created_at", type: "datetime", filterable: true },
    roles: { column: "roles", type: "stringArray", filterable: true },
    ok: { column: "ok", type: "boolean", filterable: true },
  };
  const word = fc.constantFrom(
    "status",
    "n",
    "createdAt",
    "roles",
    "ok",
    "name.givenName",
    "attributes.x",
    "constructor",
    "__proto__",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "pr",
    "gt",
    "ge",
    "lt",
    "le",
    "and",
    "or",
    "not",
    "AND",
    "Not",
    "true",
    "false",
    "null",
    '"a"',
    '"now-30d"',
    '"2024-01-01T00:00:00Z"',
    '"x\') OR 1=1 --"',
    '"\\u0041"',
    '"\\',
    "1",
    "-2.5",
    "1e3",
    "(",
    ")",
    "[",
    "]",
    '"',
    "\\",
    "'",
    ";",
    "--",
    " ",
    "",
  );
  const grammarShaped = fc.array(word, { maxLength: 40 }).map((parts) => parts.join(" "));

  /** Only the two filter errors may ever escape; anything else would be a 500. */
  function run(text: string): void {
    try {
      compileFilter(parseFilter(text), catalogue, { now: Date.UTC(2026, 0, 1) });
    } catch (error) {
      if (!(error instanceof FilterSyntaxError || error instanceof FilterCompileError)) throw error;
      if (error instanceof FilterSyntaxError) {
        expect(error.position).toBeGreaterThanOrEqual(0);
        expect(error.position).toBeLessThanOrEqual(Math.min(text.length, 2_000));
      }
    }
  }

  it("throws only filter errors on arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300, unit: "binary" }), run), { numRuns: 2_000 });
  });

  it("throws only filter errors on grammar-shaped strings", () => {
    fc.assert(fc.property(grammarShaped, run), { numRuns: 5_000 });
  });

  it("throws only filter errors on long and deeply nested inputs", () => {
    const nested = fc.integer({ min: 0, max: 3_000 }).map((n) => `${"not (".repeat(n)}a pr${")".repeat(n)}`);
    fc.assert(fc.property(nested, run), { numRuns: 200 });
    run("a pr or ".repeat(300));
    run("(".repeat(5_000));
  });
});

describe("parseFilter: compared with scim2-parse-filter", () => {
  type Normal = { op: string; attr?: string; value?: unknown; children?: Normal[] };

  /** Common form: and/or flattened to n-ary (the reference builds them n-ary), attribute names lower-cased. */
  function fromOurs(node: FilterNode): Normal {
    switch (node.type) {
      case "and":
      case "or":
        return { op: node.type, children: [node.left, node.right].flatMap((c) => flatten(node.type, fromOurs(c))) };
      case "not":
        return { op: "not", children: [fromOurs(node.filter)] };
      case "present":
        return { op: "pr", attr: node.attribute.toLowerCase() };
      case "compare":
        return { op: node.op, attr: node.attribute.toLowerCase(), value: node.value };
      case "valuePath":
        return { op: "[]", attr: node.attribute.toLowerCase(), children: [fromOurs(node.filter)] };
    }
  }

  function fromReference(filter: Filter): Normal {
    switch (filter.op) {
      case "and":
      case "or":
        if (!("filters" in filter)) throw new Error("unexpected shape");
        return { op: filter.op, children: filter.filters.flatMap((c) => flatten(filter.op, fromReference(c))) };
      case "not":
        if (!("filter" in filter)) throw new Error("unexpected shape");
        return { op: "not", children: [fromReference(filter.filter)] };
      case "[]":
        if (!("valFilter" in filter)) throw new Error("unexpected shape");
        return { op: "[]", attr: filter.attrPath.toLowerCase(), children: [fromReference(filter.valFilter)] };
      case "pr":
        if (!("attrPath" in filter)) throw new Error("unexpected shape");
        return { op: "pr", attr: filter.attrPath.toLowerCase() };
      default:
        if (!("compValue" in filter)) throw new Error("unexpected shape");
        return { op: filter.op.toLowerCase(), attr: filter.attrPath.toLowerCase(), value: filter.compValue };
    }
  }

  function flatten(op: string, node: Normal): Normal[] {
    return node.op === op && node.children ? node.children : [node];
  }

  const corpus = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    'status eq "active"',
    'status ne "deleted" and lastLoginAt pr',
    'createdAt gt "now-30d" and roles eq "admin"',
    'attributes.department eq "Sales" or attributes.department eq "Ops" or attributes.department eq "HR"',
    "attributes.level ge 3 and attributes.level lt 10",
    "attributes.score eq -1.5",
    "attributes.vip eq true",
    "attributes.vip eq false",
    "attributes.manager eq null",
    'email ew "@example.com"',
    'not (status eq "disabled")',
    "a pr or b pr and c pr",
    "(a pr or b pr) and c pr",
    "a pr and b pr or c pr and d pr",
    'not (a pr and not (b eq "x"))',
    'userName eq "quote\\"inside"',
    'USERNAME EQ "Upper"',
    "x eq 1 and y eq 2 and z eq 3 and w eq 4",
  ];

  it.each(corpus)("%s", (text) => {
    expect(fromOurs(parseFilter(text))).toEqual(fromReference(referenceParse(text)));
  });
});
