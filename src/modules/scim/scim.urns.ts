/** The schema and message URNs of RFC 7643 / RFC 7644, and ours. */
export const URN = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  /** The tenant's custom fields (`attributes` of /v1/users), one attribute per field definition. */
  extension: "urn:ietf:params:scim:schemas:extension:uom:2.0:User",
  /** RFC 7643 §4.3; not supported, but Entra ID sends its attributes (lenient mode ignores them). */
  enterprise: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  serviceProviderConfig: "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
  resourceType: "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
  schema: "urn:ietf:params:scim:schemas:core:2.0:Schema",
  listResponse: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  patchOp: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  bulkRequest: "urn:ietf:params:scim:api:messages:2.0:BulkRequest",
  bulkResponse: "urn:ietf:params:scim:api:messages:2.0:BulkResponse",
} as const;

const KNOWN: readonly string[] = [URN.user, URN.group, URN.extension, URN.enterprise];

/**
 * Splits a schema-qualified path (`urn:…:core:2.0:User:name.givenName`) into its schema URN and attribute path.
 * A bare known URN is the whole schema (`attribute` ""); an unqualified path has `schema` null. URNs compare
 * case-insensitively (RFC 7643 §2.1).
 */
export function splitUrn(path: string): { schema: string | null; attribute: string } {
  const lower = path.toLowerCase();
  for (const urn of KNOWN) {
    if (lower === urn.toLowerCase()) return { schema: urn, attribute: "" };
    if (lower.startsWith(`${urn.toLowerCase()}:`)) return { schema: urn, attribute: path.slice(urn.length + 1) };
  }
  if (!lower.startsWith("urn:")) return { schema: null, attribute: path };
  const cut = path.lastIndexOf(":");
  return { schema: path.slice(0, cut), attribute: path.slice(cut + 1) };
}
