/**
 * Grants: what a role hands out. A grant is a permission (`users:read`), a field grant (`users.email:read`,
 * `users.attributes.salary:write`) or a pattern over them: `*` as the last segment of the resource stands for
 * one or more further segments (`users.attributes.*:read`, `users.*:*`), `*` as the action for any action
 * (`users:*` is users:read, users:write, users:delete — not the field grants, which live under `users.<field>`),
 * and a lone `*` for everything.
 */

interface Parsed {
  /** The resource's dot-separated segments; a trailing `*` is kept as a segment. */
  resource: readonly string[];
  action: string;
}

const SEGMENT = /^[A-Za-z][A-Za-z0-9_-]*$/;

function parse(grant: string): Parsed | null {
  if (grant === "*") return { resource: ["*"], action: "*" };
  const colon = grant.lastIndexOf(":");
  if (colon <= 0) return null;
  const resource = grant.slice(0, colon).split(".");
  const action = grant.slice(colon + 1);
  if (action !== "*" && !SEGMENT.test(action)) return null;
  const wellFormed = resource.every((s, i) => SEGMENT.test(s) || (s === "*" && i === resource.length - 1));
  return wellFormed ? { resource, action } : null;
}

/** Whether a string is a grant in the syntax above (not whether anything grants it). */
export function isGrantSyntax(grant: string): boolean {
  return parse(grant) !== null;
}

const isPattern = (resource: readonly string[]) => resource.at(-1) === "*";

/** Whether resource pattern `a` covers every resource `b` covers (b may itself be a pattern). */
function resourceCovers(a: readonly string[], b: readonly string[]): boolean {
  if (!isPattern(a)) return !isPattern(b) && a.length === b.length && a.every((s, i) => s === b[i]);
  const prefix = a.length - 1;
  return b.length > prefix && a.slice(0, prefix).every((s, i) => s === b[i]);
}

function covers(a: Parsed, b: Parsed): boolean {
  return (a.action === "*" || a.action === b.action) && resourceCovers(a.resource, b.resource);
}

function format({ resource, action }: Parsed): string {
  return resource.length === 1 && resource[0] === "*" && action === "*" ? "*" : `${resource.join(".")}:${action}`;
}

/** The grant covering exactly what both cover, if any. */
function meet(a: Parsed, b: Parsed): Parsed | null {
  const action = a.action === "*" ? b.action : b.action === "*" || a.action === b.action ? a.action : null;
  if (action === null) return null;
  if (resourceCovers(a.resource, b.resource)) return { resource: b.resource, action };
  if (resourceCovers(b.resource, a.resource)) return { resource: a.resource, action };
  return null;
}

const MAX_ANSWERS = 1_000;

/** An immutable set of grants, asked with `has` (one permission) or `covers` (a whole grant, for escalation checks). */
export class Grants {
  static readonly NONE = new Grants([]);
  readonly #parsed: readonly Parsed[];
  /** Answers of `covers` so far: a credential's grants are asked the same few questions on every request. */
  readonly #answers = new Map<string, boolean>();
  /** The grants as given (well-formed ones only), without duplicates. */
  readonly list: readonly string[];

  constructor(grants: Iterable<string>) {
    const parsed = [...new Set(grants)].map(parse).filter((p): p is Parsed => p !== null);
    // drop what another grant already covers, so lists stay short and readable
    this.#parsed = parsed.filter((p, i) => !parsed.some((q, j) => j !== i && covers(q, p) && (!covers(p, q) || j < i)));
    this.list = this.#parsed.map(format);
  }

  /** Whether the permission or field grant (no pattern) is granted. */
  has(permission: string): boolean {
    return this.covers(permission);
  }

  /** Whether everything `grant` (possibly a pattern) hands out is granted here: a holder may pass it on. */
  covers(grant: string): boolean {
    const known = this.#answers.get(grant);
    if (known !== undefined) return known;
    const wanted = parse(grant);
    const answer = wanted !== null && this.#parsed.some((g) => covers(g, wanted));
    if (this.#answers.size >= MAX_ANSWERS) this.#answers.clear();
    this.#answers.set(grant, answer);
    return answer;
  }

  /** What both grant. */
  intersect(other: Grants): Grants {
    const both: string[] = [];
    for (const a of this.#parsed) {
      for (const b of other.#parsed) {
        const m = meet(a, b);
        if (m) both.push(format(m));
      }
    }
    return new Grants(both);
  }

  union(other: Grants): Grants {
    return new Grants([...this.list, ...other.list]);
  }

  get size(): number {
    return this.list.length;
  }
}
