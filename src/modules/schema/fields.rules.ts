import type { FieldError } from "../../core/errors";
import { patternProblem } from "./fields.patterns";
import type { FieldDefinition, FieldType } from "./fields.types";
import { checkValue } from "./fields.values";

/** Which rules make sense for which types; a rule set on another type is refused rather than ignored. */
const TEXT: ReadonlySet<FieldType> = new Set(["string", "email", "url", "phone", "string[]"]);
const NUMERIC: ReadonlySet<FieldType> = new Set(["number", "integer"]);
const SEARCHABLE: ReadonlySet<FieldType> = new Set(["string", "email", "url", "phone", "enum", "string[]"]);

/** Every problem of a definition on its own (not yet against existing users). */
export function definitionErrors(field: FieldDefinition): FieldError[] {
  const errors: FieldError[] = [];
  const refuse = (name: string, code: string, detail: string) => errors.push({ field: name, code, detail });
  if (field.pattern !== null) {
    if (!TEXT.has(field.type)) refuse("pattern", "not_applicable", `A ${field.type} field takes no pattern.`);
    const problem = patternProblem(field.pattern);
    if (problem) refuse("pattern", "unsafe_pattern", problem);
  }
  for (const rule of ["min", "max"] as const) {
    if (field[rule] !== null && !NUMERIC.has(field.type)) {
      refuse(rule, "not_applicable", `Only number and integer fields take ${rule}.`);
    }
  }
  for (const rule of ["minLength", "maxLength"] as const) {
    if (field[rule] !== null && !TEXT.has(field.type)) {
      refuse(rule, "not_applicable", `A ${field.type} field takes no ${rule}.`);
    }
  }
  if (field.min !== null && field.max !== null && field.min > field.max) refuse("min", "invalid_range", "min > max.");
  if (field.minLength !== null && field.maxLength !== null && field.minLength > field.maxLength) {
    refuse("minLength", "invalid_range", "minLength > maxLength.");
  }
  if (field.type === "enum" && field.enum === null) refuse("enum", "required", "An enum field lists its values.");
  if (field.enum !== null && field.type !== "enum" && field.type !== "string[]") {
    refuse("enum", "not_applicable", `A ${field.type} field takes no enum.`);
  }
  if (field.searchable && !SEARCHABLE.has(field.type)) {
    refuse("searchable", "not_applicable", `A ${field.type} field cannot be searched as text.`);
  }
  if (field.sortable && (field.type === "string[]" || field.pii)) {
    refuse("sortable", "not_applicable", "Lists and pii fields cannot be sorted on.");
  }
  if (field.pii && (field.filterable || field.unique) && field.type === "string[]") {
    refuse("filterable", "not_applicable", "A pii list cannot be filtered on or unique.");
  }
  if (field.unique && field.type === "string[]") refuse("unique", "not_applicable", "A list cannot be unique.");
  if (field.default !== null) {
    if (field.unique)
      refuse("default", "not_applicable", "A unique field takes no default (every user would share it).");
    else if (field.pii) refuse("default", "not_applicable", "A pii field takes no default.");
    else {
      const check = checkValue(field, field.default);
      if (!check.ok) refuse("default", check.code, `The default does not fit the field: ${check.detail}`);
    }
  }
  return errors;
}
