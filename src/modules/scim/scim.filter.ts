import { ApiError } from "../../core/errors";
import type { FilterNode, FilterValue } from "../search/filter.parser";
import { UserErrors } from "../users/users.errors";
import { ScimErrors, scimError } from "./scim.errors";
import { splitUrn, URN } from "./scim.urns";

/**
 * A SCIM filter over Users (RFC 7644 §3.4.2.2), rewritten to the users filter (users.filter.ts), which then
 * compiles it to SQL with the same rules as GET /v1/users?filter=. What maps:
 * id, externalId, userName (→ username; an email-shaped value → the email of a user without username),
 * name.formatted / displayName (→ name), emails / emails.value (→ email), phoneNumbers(.value) (→ phone),
 * active (→ status), meta.created / meta.lastModified (→ createdAt / updatedAt), groups(.value|.display)
 * (→ roles), the extension's attributes (→ attributes.<name>), and `emails[…]` / `phoneNumbers[…]` value
 * filters whose conditions map (`type eq "work"` and `primary eq true` describe the one stored value).
 * Anything else is 400 invalidFilter.
 */

/** Always true / always false, in the users filter's terms (every user has an id). */
const TRUE: FilterNode = { type: "present", attribute: "id", position: 0 };
const FALSE: FilterNode = { type: "not", filter: TRUE };

function invalid(detail: string, attribute: string): ApiError {
  return new ApiError(UserErrors.INVALID_FILTER, { detail, extensions: { attribute } });
}

const RENAMED: Record<string, string> = {
  id: "id",
  externalid: "externalId",
  "name.formatted": "name",
  displayname: "name",
  emails: "email",
  "emails.value": "email",
  phonenumbers: "phone",
  "phonenumbers.value": "phone",
  "meta.created": "createdAt",
  "meta.lastmodified": "updatedAt",
  groups: "roles",
  "groups.value": "roles",
  "groups.display": "roles",
};

/** The fixed sub-attributes of the one stored email / phone: `type` "work", `primary` true. */
const CONSTANTS: Record<string, { value: FilterValue; exists: FilterNode }> = {
  "emails.type": { value: "work", exists: TRUE },
  "emails.primary": { value: true, exists: TRUE },
  "phonenumbers.type": { value: "work", exists: { type: "present", attribute: "phone", position: 0 } },
  "phonenumbers.primary": { value: true, exists: { type: "present", attribute: "phone", position: 0 } },
};

function and(left: FilterNode, right: FilterNode): FilterNode {
  return { type: "and", left, right };
}

function not(filter: FilterNode): FilterNode {
  return { type: "not", filter };
}

export function translateUserFilter(tree: FilterNode, options: { lenient: boolean }): FilterNode {
  const visit = (node: FilterNode, prefix: string): FilterNode => {
    switch (node.type) {
      case "and":
      case "or":
        return { type: node.type, left: visit(node.left, prefix), right: visit(node.right, prefix) };
      case "not":
        return not(visit(node.filter, prefix));
      case "valuePath": {
        const path = attributePath(node.attribute, node.attribute);
        if (prefix || !["emails", "phonenumbers", "groups"].includes(path)) {
          throw invalid(
            `Value filters are supported on emails, phoneNumbers and groups, not on "${node.attribute}"`,
            node.attribute,
          );
        }
        return visit(node.filter, `${path}.`);
      }
      case "present":
      case "compare":
        return leaf(node, prefix + attributePath(node.attribute, node.attribute), options);
    }
  };
  return visit(tree, "");
}

/** The lower-cased attribute path without the core URN; an extension attribute as `attributes.<name>`. */
function attributePath(attribute: string, written: string): string {
  const { schema, attribute: path } = splitUrn(attribute);
  if (schema === URN.extension) return `attributes.${path.toLowerCase()}`;
  if (schema !== null && schema !== URN.user) throw invalid(`Unsupported schema in the filter: ${schema}`, written);
  return path.toLowerCase();
}

function leaf(
  node: Extract<FilterNode, { type: "present" | "compare" }>,
  path: string,
  options: { lenient: boolean },
): FilterNode {
  const constant = CONSTANTS[path];
  if (constant) {
    if (node.type === "present") return constant.exists;
    const equal = node.value !== null && String(node.value).toLowerCase() === String(constant.value).toLowerCase();
    if (node.op !== "eq" && node.op !== "ne")
      throw invalid(`"${node.attribute}" supports eq, ne and pr`, node.attribute);
    return (node.op === "eq") === equal ? constant.exists : FALSE;
  }
  if (path === "active") return active(node, options);
  if (path === "username") return userName(node);
  if (path.startsWith("attributes.")) return { ...node, attribute: path };
  const renamed = RENAMED[path];
  if (!renamed) throw invalid(`Unknown or unsupported attribute "${node.attribute}"`, node.attribute);
  return { ...node, attribute: renamed };
}

function active(node: Extract<FilterNode, { type: "present" | "compare" }>, options: { lenient: boolean }): FilterNode {
  if (node.type === "present") return TRUE;
  let value = node.value;
  if (options.lenient && typeof value === "string" && /^(true|false)$/i.test(value))
    value = value.toLowerCase() === "true";
  if (typeof value !== "boolean" || (node.op !== "eq" && node.op !== "ne")) {
    throw invalid('"active" supports eq and ne with true or false', node.attribute);
  }
  const status: FilterNode = {
    type: "compare",
    attribute: "status",
    op: "eq",
    value: value ? "active" : "disabled",
    position: node.position,
  };
  return node.op === "eq" ? status : not(status);
}

/**
 * userName is the username, or the email of a user who has none: an email-shaped value (usernames cannot hold
 * "@") is looked up as that email, through its blind index (so eq and ne only).
 */
function userName(node: Extract<FilterNode, { type: "present" | "compare" }>): FilterNode {
  if (node.type === "present") return TRUE;
  if (typeof node.value === "string" && node.value.includes("@")) {
    if (node.op !== "eq" && node.op !== "ne") {
      throw invalid("An email-shaped userName supports eq and ne only (the email is stored encrypted)", node.attribute);
    }
    const byEmail = and(not({ type: "present", attribute: "username", position: node.position }), {
      type: "compare",
      attribute: "email",
      op: "eq",
      value: node.value,
      position: node.position,
    });
    return node.op === "eq" ? byEmail : not(byEmail);
  }
  return { ...node, attribute: "username" };
}

/** sortBy (RFC 7644 §3.4.2.3) → a column of users; the id breaks ties so offsets stay stable. */
const SORT_COLUMNS: Record<string, string> = {
  id: "users.id",
  username: "users.username_normalized",
  externalid: "users.external_id",
  "name.formatted": "users.name COLLATE NOCASE",
  displayname: "users.name COLLATE NOCASE",
  "meta.created": "users.created_at",
  "meta.lastmodified": "users.updated_at",
};

export function sortColumn(sortBy: string | undefined): string | null {
  if (sortBy === undefined) return null;
  const column = SORT_COLUMNS[splitUrn(sortBy).attribute.toLowerCase()];
  if (!column) throw scimError(ScimErrors.SCIM_INVALID_VALUE, `Cannot sort by "${sortBy}".`);
  return column;
}
