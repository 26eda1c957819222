import { type Filter, parse as referenceParse } from "scim2-parse-filter";
import { describe, expect, it } from "vitest";
import { FilterSyntaxError } from "../../src/modules/search/filter.errors";
import { type FilterNode, parseFilter } from "../../src/modules/search/filter.parser";

/**
 * Our filter parser against an independent one (scim2-parse-filter) on the filters SCIM clients send: the same
 * accept/reject decision, and equivalent trees (and/or flattened, attribute names lower-cased).
 */

type Normal = { op: string; attr?: string; value?: unknown; children?: Normal[] };

function flatten(op: string, node: Normal): Normal[] {
  return node.op === op && node.children ? node.children : [node];
}

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

const VALID = [
  'userName eq "bjensen"',
  'userName eq "ada@example.com"',
  'externalId eq "00u1a2b3c4d5e6f7g8h9"',
  'externalId eq "8fb6c5b2-1a7e-4f9e-9d6b-2c3f4e5a6b7c"',
  'displayName eq "Sales Team"',
  'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada"',
  'urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "Love"',
  'urn:ietf:params:scim:schemas:extension:uom:2.0:User:department eq "R&D"',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
  'emails[type eq "work" and value co "@example.com"]',
  'emails[type eq "work"] and active eq true',
  'members[value eq "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A"]',
  'id eq "admin" and members[value eq "usr_1"]',
  'meta.lastModified gt "2011-05-13T04:42:34Z" and meta.created le "2026-01-01T00:00:00Z"',
  'active eq false or not (userName sw "svc-")',
  "phoneNumbers pr",
  'name.formatted ew "King" or displayName co "ada"',
  'groups.value eq "admin"',
  'title pr and (userType eq "Employee" or userType eq "Intern")',
  'userName eq "o\\"brien"',
];

const INVALID = [
  "",
  'userName eq "unterminated',
  'userName eq "a" and',
  'userName xx "a"',
  "(userName pr",
  'emails[type eq "work"',
  'userName eq "a")',
  "userName eq bjensen",
];

/** Where the two parsers disagree on purpose, and why ours follows the RFC. */
const DISAGREEMENTS: { text: string; ours: "accept" | "refuse"; why: string }[] = [
  {
    text: "active eq True",
    ours: "accept",
    why: "ABNF literals are case-insensitive (RFC 5234 §2.3); Entra ID sends True",
  },
  { text: "not userName pr", ours: "refuse", why: 'RFC 7644 §3.4.2.2: "not" "(" valFilter ")"' },
];

describe("our SCIM filter parser compared with scim2-parse-filter", () => {
  it.each(VALID)("both accept, with the same tree: %s", (text) => {
    expect(fromOurs(parseFilter(text))).toEqual(fromReference(referenceParse(text)));
  });

  it.each(DISAGREEMENTS)("a known disagreement: $text ($why)", ({ text, ours }) => {
    if (ours === "accept") {
      expect(() => parseFilter(text)).not.toThrow();
      expect(() => referenceParse(text)).toThrow();
    } else {
      expect(() => parseFilter(text)).toThrow(FilterSyntaxError);
      expect(() => referenceParse(text)).not.toThrow();
    }
  });

  it.each(INVALID)("both refuse: %j", (text) => {
    expect(() => referenceParse(text)).toThrow();
    expect(() => parseFilter(text)).toThrow(FilterSyntaxError);
  });
});
