/**
 * The template language: `{{ name }}` or `{{ user.name }}`, nothing else (no sections, partials or logic), so a
 * template cannot run code or loop. A value is HTML-escaped in `html` bodies; subjects, text and SMS bodies get it
 * as is (they are not HTML). Triple braces (`{{{raw}}}`) are refused: no value the service renders is known to be
 * safe HTML, so there is nothing that may skip the escaping. A variable with no value renders empty and is reported.
 */

export type RenderMode = "html" | "text";

/** A `{{ … }}` tag; the name is checked after the match so a malformed tag can be reported. */
const TAG = /\{\{(\{?)([^{}]*)\}?\}\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export interface TemplateProblem {
  detail: string;
}

/** What is wrong with a template text (empty when nothing is): unbalanced braces, triple braces, bad names. */
export function templateProblems(source: string): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const match of source.matchAll(TAG)) {
    const [tag, triple, name = ""] = match;
    if (triple) problems.push({ detail: `${tag}: triple braces (unescaped output) are not allowed` });
    else if (!NAME.test(name.trim())) problems.push({ detail: `${tag}: a variable is a dotted name, like user.name` });
  }
  const rest = source.replace(TAG, "");
  if (rest.includes("{{") || rest.includes("}}")) problems.push({ detail: "a {{ or }} without its other half" });
  return problems;
}

/** The variable names a template uses, in order of first use. */
export function variablesOf(source: string): string[] {
  const names = new Set<string>();
  for (const match of source.matchAll(TAG)) {
    const name = (match[2] ?? "").trim();
    if (!match[1] && NAME.test(name)) names.add(name);
  }
  return [...names];
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] as string);
}

/** The value at a dotted path, as text; undefined when there is none (or it is an object or array). */
export function lookup(data: Readonly<Record<string, unknown>>, path: string): string | undefined {
  let value: unknown = data;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export interface Rendered {
  output: string;
  /** Variables used that had no value in `data` (rendered empty). */
  missing: string[];
}

/** Renders a template that passed `templateProblems` (a malformed tag is left out). */
export function render(source: string, data: Readonly<Record<string, unknown>>, mode: RenderMode): Rendered {
  const missing = new Set<string>();
  const output = source.replace(TAG, (_tag, triple: string, raw: string) => {
    const name = raw.trim();
    if (triple || !NAME.test(name)) return "";
    const value = lookup(data, name);
    if (value === undefined) {
      missing.add(name);
      return "";
    }
    return mode === "html" ? escapeHtml(value) : value;
  });
  return { output, missing: [...missing] };
}
