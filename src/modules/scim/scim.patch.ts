import { z } from "@hono/zod-openapi";
import type { FilterNode } from "../search/filter.parser";
import { ScimErrors, scimError } from "./scim.errors";
import { matches } from "./scim.match";
import { type PatchPath, parsePatchPath } from "./scim.paths";
import { URN } from "./scim.urns";
import type { ScimDoc } from "./scim.users.mapping";

/**
 * RFC 7644 §3.5.2 PATCH: the operations are applied, in order, to the resource's SCIM representation; the
 * result is then written like a PUT (through the users service, so the same rules apply). Op names and
 * attribute names are case-insensitive (Entra ID sends "Replace").
 */

/** What PATCH needs to know of a resource type. */
export interface ResourceShape {
  /** The core schema, and the extension schemas whose attributes live under their URN key. */
  core: string;
  extensions: readonly string[];
  /** Canonical names of the core attributes; others are unknown. */
  attributes: readonly string[];
  multiValued: ReadonlySet<string>;
  readOnly: ReadonlySet<string>;
}

export const PatchRequestSchema = z.object({
  schemas: z.array(z.string()),
  Operations: z
    .array(
      z.object({
        op: z.string(),
        path: z.string().optional(),
        value: z.unknown().optional(),
      }),
    )
    .min(1)
    .max(1000),
});

export interface PatchOptions {
  lenient: boolean;
}

type Op = "add" | "replace" | "remove";

/** The operations of a PatchOp message (keys case-insensitive), checked. */
export function readPatchRequest(body: Record<string, unknown>): { op: Op; path?: string; value?: unknown }[] {
  const lowered = Object.fromEntries(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const parsed = PatchRequestSchema.safeParse({ schemas: lowered.schemas, Operations: lowered.operations });
  if (!parsed.success) {
    throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, "A PatchOp message needs schemas and 1–1000 Operations.");
  }
  if (!parsed.data.schemas.some((s) => s.toLowerCase() === URN.patchOp.toLowerCase())) {
    throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, `schemas must list ${URN.patchOp}.`);
  }
  return parsed.data.Operations.map((operation, i) => {
    const op = operation.op.toLowerCase();
    if (op !== "add" && op !== "replace" && op !== "remove") {
      throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, `Operations[${i}].op must be add, replace or remove.`);
    }
    return {
      op,
      ...(operation.path !== undefined ? { path: operation.path } : {}),
      ...(operation.value !== undefined ? { value: operation.value } : {}),
    };
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function keyOf(object: Record<string, unknown>, name: string): string {
  return Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

/** Where a path's attribute lives: the document itself, or its extension object. */
interface Target {
  container: Record<string, unknown>;
  attribute: string;
  multiValued: boolean;
}

class Patcher {
  constructor(
    private readonly doc: ScimDoc,
    private readonly shape: ResourceShape,
    private readonly options: PatchOptions,
  ) {}

  apply(op: Op, rawPath: string | undefined, value: unknown): void {
    if (rawPath === undefined) {
      this.applyWithoutPath(op, value);
      return;
    }
    const path = parsePatchPath(rawPath);
    const target = this.target(path, rawPath);
    if (!target) return;
    if (path.filter) {
      this.applyFiltered(op, path, target, value, rawPath);
      return;
    }
    if (op === "remove") {
      this.remove(target, path.sub, value);
      return;
    }
    if (value === undefined) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${op} of "${rawPath}" needs a value.`);
    if (path.sub) {
      const parent = target.container[target.attribute];
      if (target.multiValued) {
        // `emails.value`: every entry's sub-attribute (RFC 7644 §3.5.2.3 without a filter)
        for (const entry of Array.isArray(parent) ? parent.filter(isObject) : []) entry[keyOf(entry, path.sub)] = value;
        return;
      }
      const object = isObject(parent) ? parent : {};
      object[keyOf(object, path.sub)] = value;
      target.container[target.attribute] = object;
      return;
    }
    this.set(op, target, value);
  }

  /** No path: the value is an object of attributes (RFC 7644 §3.5.2.1 / §3.5.2.3). */
  private applyWithoutPath(op: Op, value: unknown): void {
    if (op === "remove") throw scimError(ScimErrors.SCIM_NO_TARGET, "remove needs a path.");
    if (!isObject(value)) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${op} without a path takes an object.`);
    for (const [key, inner] of Object.entries(value)) {
      const extension = this.shape.extensions.find((urn) => urn.toLowerCase() === key.toLowerCase());
      if (extension && isObject(inner)) {
        for (const [name, v] of Object.entries(inner)) this.apply(op, `${extension}:${name}`, v);
        continue;
      }
      // Entra ID writes paths as keys ("name.givenName", "urn:…:enterprise:2.0:User:department"): not RFC 7644
      if (key.includes(".") || key.toLowerCase().startsWith("urn:")) {
        if (!this.options.lenient) {
          throw scimError(
            ScimErrors.SCIM_INVALID_PATH,
            `"${key}" is a path, not an attribute name: send it as the operation's path (lenient mode accepts it).`,
          );
        }
      }
      this.apply(op, key, inner);
    }
  }

  private target(path: PatchPath, rawPath: string): Target | null {
    const schema = path.schema;
    if (schema && schema !== this.shape.core) {
      const extension = this.shape.extensions.find((urn) => urn === schema);
      if (!extension) return this.unknown(rawPath, `the schema ${schema} is not supported`);
      const object = isObject(this.doc[extension]) ? (this.doc[extension] as Record<string, unknown>) : {};
      this.doc[extension] = object;
      return { container: object, attribute: keyOf(object, path.attribute), multiValued: false };
    }
    const name = this.shape.attributes.find((a) => a.toLowerCase() === path.attribute.toLowerCase());
    if (!name) return this.unknown(rawPath, `"${path.attribute}" is not an attribute of ${this.shape.core}`);
    if (this.shape.readOnly.has(name)) {
      throw scimError(ScimErrors.SCIM_MUTABILITY, `"${name}" is read-only.`);
    }
    return { container: this.doc, attribute: name, multiValued: this.shape.multiValued.has(name) };
  }

  /** An attribute this service does not know: 400 invalidPath, or ignored in lenient mode. */
  private unknown(rawPath: string, why: string): null {
    if (this.options.lenient) return null;
    throw scimError(ScimErrors.SCIM_INVALID_PATH, `Invalid path ${JSON.stringify(rawPath)}: ${why}.`);
  }

  private set(op: Op, target: Target, value: unknown): void {
    const current = target.container[target.attribute];
    if (target.multiValued) {
      const values = Array.isArray(value) ? value : [value];
      if (op === "replace" || !Array.isArray(current)) {
        target.container[target.attribute] = values;
        return;
      }
      // add: appended, except values already there (RFC 7644 §3.5.2.1)
      const seen = new Set(current.map((v) => JSON.stringify(v)));
      target.container[target.attribute] = [...current, ...values.filter((v) => !seen.has(JSON.stringify(v)))];
      return;
    }
    if (op === "add" && isObject(current) && isObject(value)) {
      target.container[target.attribute] = { ...current, ...value };
      return;
    }
    target.container[target.attribute] = value;
  }

  private remove(target: Target, sub: string | null, value: unknown): void {
    const current = target.container[target.attribute];
    if (value !== undefined && target.multiValued && sub === null) {
      // Entra ID removes group members as {path: "members", value: [{value}]}; RFC 7644 would remove them all
      if (!this.options.lenient) {
        throw scimError(
          ScimErrors.SCIM_INVALID_VALUE,
          `remove takes no value; to remove some values use a filter, e.g. "${target.attribute}[value eq \\"…\\"]".`,
        );
      }
      const listed = (Array.isArray(value) ? value : [value]).map((v) => (isObject(v) ? v[keyOf(v, "value")] : v));
      const kept = Array.isArray(current)
        ? current.filter((entry) => !(isObject(entry) && listed.includes(entry[keyOf(entry, "value")])))
        : current;
      target.container[target.attribute] = kept;
      return;
    }
    if (sub === null) {
      delete target.container[target.attribute];
      return;
    }
    const entries = target.multiValued ? (Array.isArray(current) ? current : []) : [current];
    for (const entry of entries.filter(isObject)) delete entry[keyOf(entry, sub)];
  }

  /** `attr[filter]` and `attr[filter].sub`: the operation applies to the matching entries. */
  private applyFiltered(op: Op, path: PatchPath, target: Target, value: unknown, rawPath: string): void {
    if (!target.multiValued || !path.filter) {
      throw scimError(ScimErrors.SCIM_INVALID_PATH, `"${path.attribute}" is not multi-valued: it takes no filter.`);
    }
    const filter = path.filter;
    const current = target.container[target.attribute];
    const entries = (Array.isArray(current) ? current : []).filter(isObject);
    const matched = entries.filter((entry) => matches(filter, entry));
    if (op === "remove") {
      if (path.sub) for (const entry of matched) delete entry[keyOf(entry, path.sub)];
      else
        target.container[target.attribute] = (Array.isArray(current) ? current : []).filter(
          (e) => !matched.includes(e as Record<string, unknown>),
        );
      return;
    }
    if (value === undefined) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${op} of "${rawPath}" needs a value.`);
    if (matched.length === 0) {
      // RFC 7644 §3.5.2.3: no match is 400 noTarget. Entra ID relies on it creating the entry instead.
      if (!this.options.lenient) {
        throw scimError(
          ScimErrors.SCIM_NO_TARGET,
          `No value of "${path.attribute}" matches ${JSON.stringify(rawPath)}.`,
        );
      }
      const created = { ...equalities(filter), ...(path.sub ? { [path.sub]: value } : isObject(value) ? value : {}) };
      target.container[target.attribute] = [...entries, created];
      return;
    }
    for (const entry of matched) {
      if (path.sub) entry[keyOf(entry, path.sub)] = value;
      else if (isObject(value)) Object.assign(entry, value);
      else throw scimError(ScimErrors.SCIM_INVALID_VALUE, `${op} of "${rawPath}" takes an object.`);
    }
  }
}

/** The `attr eq value` conditions of a filter's conjunction: what an entry created to match it must hold. */
function equalities(filter: FilterNode): Record<string, unknown> {
  if (filter.type === "and") return { ...equalities(filter.left), ...equalities(filter.right) };
  if (filter.type === "compare" && filter.op === "eq") return { [filter.attribute]: filter.value };
  return {};
}

/** Applies the operations to a copy of `doc`; throws a SCIM error (nothing written) on the first bad one. */
export function applyPatch(
  doc: ScimDoc,
  operations: readonly { op: Op; path?: string; value?: unknown }[],
  shape: ResourceShape,
  options: PatchOptions,
): ScimDoc {
  const copy = structuredClone(doc);
  const patcher = new Patcher(copy, shape, options);
  for (const operation of operations) patcher.apply(operation.op, operation.path, operation.value);
  return copy;
}
