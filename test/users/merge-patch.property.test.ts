import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyMergePatch, createMergePatch, type Json } from "../../src/core/http/merge-patch";

/** Member names that are ordinary strings (not inherited members of Object.prototype such as `toString`). */
const key = fc.string({ minLength: 0, maxLength: 6 }).filter((k) => !(k in Object.prototype) && k !== "__proto__");

/** JSON values without null anywhere inside (RFC 7396 cannot express a null member value in the target). */
const { value: nonNullJson } = fc.letrec<{ value: Json; object: Record<string, Json> }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.string({ maxLength: 8 }),
    fc.array(tie("value"), { maxLength: 4 }),
    tie("object"),
  ),
  object: fc.dictionary(key, tie("value"), { maxKeys: 5 }),
}));
const nonNullObject = fc.dictionary(key, nonNullJson, { maxKeys: 6 });

/** Any JSON value, nulls included (a patch may hold nulls: they remove members). */
const anyJson = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as Json);
const anyObject = fc.dictionary(key, anyJson, { maxKeys: 6 });

describe("RFC 7396 merge patch (property)", () => {
  it("applying createMergePatch(a, b) to a yields b", () => {
    fc.assert(
      fc.property(anyObject, nonNullObject, (a, b) => {
        expect(applyMergePatch(a, createMergePatch(a, b))).toEqual(b);
      }),
      { numRuns: 500 },
    );
  });

  it("createMergePatch(a, a) is the empty patch", () => {
    fc.assert(
      fc.property(nonNullObject, (a) => {
        expect(createMergePatch(a, a)).toEqual({});
      }),
    );
  });

  it("applying a patch twice equals applying it once (idempotence)", () => {
    fc.assert(
      fc.property(anyJson, anyJson, (target, patch) => {
        const once = applyMergePatch(target, patch);
        expect(applyMergePatch(once, patch)).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });

  it("never mutates its arguments", () => {
    fc.assert(
      fc.property(anyObject, anyObject, (target, patch) => {
        const target0 = structuredClone(target);
        const patch0 = structuredClone(patch);
        applyMergePatch(target, patch);
        createMergePatch(target, patch);
        expect(target).toEqual(target0);
        expect(patch).toEqual(patch0);
      }),
    );
  });

  it("the result holds no null member at any depth when the patch is an object", () => {
    const hasNullMember = (v: Json): boolean =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.values(v).some((m) => m === null || hasNullMember(m))
        : false;
    fc.assert(
      fc.property(nonNullObject, anyObject, (target, patch) => {
        expect(hasNullMember(applyMergePatch(target, patch))).toBe(false);
      }),
    );
  });

  // Members named like Object.prototype members (all valid attribute names) are members like any other.
  it("handles members named like Object.prototype members", () => {
    for (const name of ["toString", "constructor", "valueOf", "hasOwnProperty", "__proto__"]) {
      const from = JSON.parse(`{"${name}": 1, "kept": true}`) as Json;
      expect(applyMergePatch(from, createMergePatch(from, { kept: true }))).toEqual({ kept: true });
      const added = applyMergePatch({ kept: true }, JSON.parse(`{"${name}": {"x": 2}}`) as Json) as Record<
        string,
        Json
      >;
      expect(Object.getPrototypeOf(added)).toBe(Object.prototype);
      expect(Object.hasOwn(added, name)).toBe(true);
    }
  });

  it("matches the examples of RFC 7396 Appendix A", () => {
    const cases: [Json, Json, Json][] = [
      [{ a: "b" }, { a: "c" }, { a: "c" }],
      [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
      [{ a: "b" }, { a: null }, {}],
      [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
      [{ a: ["b"] }, { a: "c" }, { a: "c" }],
      [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
      [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
      [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
      [
        ["a", "b"],
        ["c", "d"],
        ["c", "d"],
      ],
      [{ a: "b" }, ["c"], ["c"]],
      [{ a: "foo" }, null, null],
      [{ a: "foo" }, "bar", "bar"],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: "b", c: null }, { a: "b" }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) expect(applyMergePatch(target, patch)).toEqual(result);
  });
});
