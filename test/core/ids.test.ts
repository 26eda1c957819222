import { describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function timeOf(id: string): number {
  return [...id.slice(4, 14)].reduce((n, ch) => n * 32 + CROCKFORD.indexOf(ch), 0);
}

describe("newId", () => {
  it("is a type prefix and a 26-character Crockford ULID whose first 10 characters are the time", () => {
    const now = Date.now();
    const id = newId("usr", now);
    expect(id).toMatch(/^usr_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(timeOf(id)).toBe(now);
  });

  it("sorts in creation order, also within one millisecond (monotonic)", () => {
    const at = Date.now() + 1000;
    const ids = Array.from({ length: 500 }, () => newId("aud", at));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
