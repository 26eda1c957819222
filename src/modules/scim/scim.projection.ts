import { ScimErrors, scimError } from "./scim.errors";
import { splitUrn } from "./scim.urns";
import type { ScimDoc } from "./scim.users.mapping";

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): a comma-separated list of attribute paths,
 * schema-qualified or not, with sub-attributes (`name.givenName`, `emails.value`, `meta.version`) and whole
 * extensions (`urn:…:uom:2.0:User`). `id` and `schemas` are returned always (RFC 7643 §7 `returned: always`).
 */
export interface Projection {
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

const ALWAYS = new Set(["id", "schemas"]);

interface Selected {
  top: string;
  sub: string | null;
}

function parseList(list: string, extensions: readonly string[]): Selected[] {
  return list
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const { schema, attribute } = splitUrn(item);
      const extension = schema ? extensions.find((urn) => urn.toLowerCase() === schema.toLowerCase()) : undefined;
      if (schema && extension) return { top: extension, sub: attribute || null };
      if (schema && !/:core:2\.0:(User|Group)$/i.test(schema)) {
        throw scimError(ScimErrors.SCIM_INVALID_VALUE, `Unknown schema in the attribute list: ${schema}.`);
      }
      const [top, sub] = attribute.split(".") as [string, string | undefined];
      return { top, sub: sub ?? null };
    });
}

function keyIn(doc: Record<string, unknown>, name: string): string | undefined {
  return Object.keys(doc).find((k) => k.toLowerCase() === name.toLowerCase());
}

function pickSub(value: unknown, sub: string): unknown {
  const pick = (object: unknown) => {
    if (typeof object !== "object" || object === null) return undefined;
    const key = keyIn(object as Record<string, unknown>, sub);
    return key === undefined ? undefined : { [key]: (object as Record<string, unknown>)[key] };
  };
  if (Array.isArray(value)) return value.map(pick).filter((v) => v !== undefined);
  return pick(value);
}

function merge(into: Record<string, unknown>, key: string, value: unknown): void {
  const existing = into[key];
  if (Array.isArray(existing) && Array.isArray(value)) {
    into[key] = existing.map((entry, i) => ({ ...(entry as object), ...(value[i] as object) }));
  } else if (typeof existing === "object" && existing !== null && typeof value === "object" && value !== null) {
    into[key] = { ...existing, ...value };
  } else {
    into[key] = value;
  }
}

export function project(doc: ScimDoc, projection: Projection, extensions: readonly string[]): ScimDoc {
  if (projection.attributes) {
    const out: ScimDoc = { schemas: doc.schemas, id: doc.id };
    for (const { top, sub } of parseList(projection.attributes, extensions)) {
      const key = keyIn(doc, top);
      if (key === undefined || ALWAYS.has(key)) continue;
      const value = sub ? pickSub(doc[key], sub) : doc[key];
      if (value !== undefined) merge(out, key, value);
    }
    return out;
  }
  if (projection.excludedAttributes) {
    const out = structuredClone(doc);
    for (const { top, sub } of parseList(projection.excludedAttributes, extensions)) {
      const key = keyIn(out, top);
      if (key === undefined || ALWAYS.has(key)) continue;
      if (!sub) {
        delete out[key];
        continue;
      }
      const value = out[key];
      for (const object of Array.isArray(value) ? value : [value]) {
        if (typeof object !== "object" || object === null) continue;
        const subKey = keyIn(object as Record<string, unknown>, sub);
        if (subKey !== undefined) delete (object as Record<string, unknown>)[subKey];
      }
    }
    return out;
  }
  return doc;
}
