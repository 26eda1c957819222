import { FilterSyntaxError } from "../search/filter.errors";
import { type FilterNode, parseFilter } from "../search/filter.parser";
import { ScimErrors, scimError } from "./scim.errors";
import { splitUrn } from "./scim.urns";

/**
 * A PATCH path (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`, where
 * `attrPath = [URI ":"] ATTRNAME *1subAttr` and `valuePath = attrPath "[" valFilter "]"`.
 * e.g. `emails[type eq "work"].value`, `name.givenName`, `members[value eq "usr_…"]`,
 * `urn:ietf:params:scim:schemas:extension:uom:2.0:User:department`.
 */
export interface PatchPath {
  /** The schema URN the path named, or null (the resource's core schema). */
  schema: string | null;
  attribute: string;
  /** The sub-attribute (`givenName` of `name.givenName`, `value` of `emails[…].value`). */
  sub: string | null;
  filter: FilterNode | null;
}

const NAME = /^[A-Za-z$][A-Za-z0-9_$-]*$/;

function invalidPath(path: string, why: string): never {
  throw scimError(ScimErrors.SCIM_INVALID_PATH, `Invalid path ${JSON.stringify(path)}: ${why}.`);
}

export function parsePatchPath(path: string): PatchPath {
  if (path.length === 0 || path.length > 1000) invalidPath(path, "empty or too long");
  let head = path;
  let filter: FilterNode | null = null;
  let tail = "";
  const open = path.indexOf("[");
  if (open >= 0) {
    const close = path.lastIndexOf("]");
    if (close < open) invalidPath(path, 'no closing "]"');
    head = path.slice(0, open);
    tail = path.slice(close + 1);
    try {
      filter = parseFilter(path.slice(open + 1, close));
    } catch (error) {
      if (!(error instanceof FilterSyntaxError)) throw error;
      invalidPath(path, `the value filter is not valid (${error.message})`);
    }
    if (tail !== "" && !tail.startsWith(".")) invalidPath(path, 'only ".subAttribute" may follow "]"');
  }
  const { schema, attribute: attrPath } = splitUrn(head);
  const parts = attrPath.split(".");
  if (parts.length > 2 || !parts.every((part) => NAME.test(part))) invalidPath(path, "not an attribute path");
  const [attribute, inner] = parts as [string, string | undefined];
  const sub = tail ? tail.slice(1) : (inner ?? null);
  if (tail && inner) invalidPath(path, "a sub-attribute both before and after the filter");
  if (sub !== null && !NAME.test(sub)) invalidPath(path, "not a sub-attribute name");
  return { schema, attribute, sub, filter };
}
