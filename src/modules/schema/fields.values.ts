import type { FieldError } from "../../core/errors";
import { matchesPattern } from "./fields.patterns";
import type { FieldDefinition, FieldType } from "./fields.types";

/**
 * One custom field's value check: the value as stored (datetimes normalised to `toISOString()`, so that they
 * compare as text in filters and indexes) or the problem with it.
 */
export type ValueCheck = { ok: true; value: unknown } | { ok: false; code: string; detail: string };

/** Hard caps, whatever a definition says: a value is never longer than this (and a pattern never runs on more). */
export const VALUE_CAPS = { string: 2048, arrayItems: 100, arrayItem: 256 } as const;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+[1-9]\d{6,14}$/;

const fail = (code: string, detail: string): ValueCheck => ({ ok: false, code, detail });
const ok = (value: unknown): ValueCheck => ({ ok: true, value });

/** Checks `value` against the definition's type and rules. */
export function checkValue(field: FieldDefinition, value: unknown): ValueCheck {
  if (field.type === "string[]") return checkArray(field, value);
  const typed = checkType(field.type, value, field);
  if (!typed.ok) return typed;
  return checkRules(field, typed.value);
}

function checkType(type: Exclude<FieldType, "string[]">, value: unknown, field: FieldDefinition): ValueCheck {
  switch (type) {
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? ok(value)
        : fail("invalid_type", "Expected a number.");
    case "integer":
      return Number.isSafeInteger(value) ? ok(value) : fail("invalid_type", "Expected an integer.");
    case "boolean":
      return typeof value === "boolean" ? ok(value) : fail("invalid_type", "Expected true or false.");
    case "date":
      return typeof value === "string" && isDate(value)
        ? ok(value)
        : fail("invalid_format", "Expected a date (YYYY-MM-DD).");
    case "datetime":
      return typeof value === "string" && DATETIME.test(value) && !Number.isNaN(Date.parse(value))
        ? ok(new Date(value).toISOString())
        : fail("invalid_format", "Expected an RFC 3339 date-time, such as 2026-11-27T10:00:00Z.");
    default:
      if (typeof value !== "string") return fail("invalid_type", "Expected a string.");
      if (value.length > VALUE_CAPS.string) return fail("too_big", `At most ${VALUE_CAPS.string} characters.`);
      return checkStringFormat(type, value, field);
  }
}

function checkStringFormat(type: FieldType, value: string, field: FieldDefinition): ValueCheck {
  if (type === "email" && !(EMAIL.test(value) && value.length <= 254)) {
    return fail("invalid_format", "Expected an email address.");
  }
  if (type === "url" && !isWebUrl(value)) return fail("invalid_format", "Expected an http(s) URL.");
  if (type === "phone" && !PHONE.test(value)) {
    return fail("invalid_format", "Expected an E.164 phone number, such as +14155550123.");
  }
  if (type === "enum" && !(field.enum ?? []).includes(value)) {
    return fail("invalid_enum_value", `Expected one of: ${(field.enum ?? []).join(", ")}.`);
  }
  return ok(value);
}

function checkRules(field: FieldDefinition, value: unknown): ValueCheck {
  if (typeof value === "number") {
    if (field.min !== null && value < field.min) return fail("too_small", `Must be at least ${field.min}.`);
    if (field.max !== null && value > field.max) return fail("too_big", `Must be at most ${field.max}.`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (field.minLength !== null && length < field.minLength) {
      return fail("too_small", `Must have at least ${field.minLength} characters.`);
    }
    if (field.maxLength !== null && length > field.maxLength) {
      return fail("too_big", `Must have at most ${field.maxLength} characters.`);
    }
    if (field.pattern !== null && !matchesPattern(field.pattern, value)) {
      return fail("pattern_mismatch", `Must match the pattern ${field.pattern}.`);
    }
  }
  return ok(value);
}

function checkArray(field: FieldDefinition, value: unknown): ValueCheck {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    return fail("invalid_type", "Expected an array of strings.");
  }
  const items = value as string[];
  const most = Math.min(field.maxLength ?? VALUE_CAPS.arrayItems, VALUE_CAPS.arrayItems);
  if (items.length > most) return fail("too_big", `At most ${most} items.`);
  if (field.minLength !== null && items.length < field.minLength) {
    return fail("too_small", `At least ${field.minLength} items.`);
  }
  for (const item of items) {
    if (item.length > VALUE_CAPS.arrayItem)
      return fail("too_big", `Items have at most ${VALUE_CAPS.arrayItem} characters.`);
    if (field.enum !== null && !field.enum.includes(item)) {
      return fail("invalid_enum_value", `Items must be one of: ${field.enum.join(", ")}.`);
    }
    if (field.pattern !== null && !matchesPattern(field.pattern, item)) {
      return fail("pattern_mismatch", `Items must match the pattern ${field.pattern}.`);
    }
  }
  return ok([...new Set(items)]);
}

function isDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
}

function isWebUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return url.protocol === "http:" || url.protocol === "https:";
}

/** The field error for a failed check, under `attributes.<name>` (with a prefix such as `data` in bulk items). */
export function valueError(
  prefix: readonly string[],
  name: string,
  check: { code: string; detail: string },
): FieldError {
  return { field: [...prefix, "attributes", name].join("."), code: check.code, detail: check.detail };
}
