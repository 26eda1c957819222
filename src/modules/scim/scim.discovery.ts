import type { TenantSchema } from "../schema/fields.types";
import { ScimErrors, scimError } from "./scim.errors";
import { extensionSchemaDocument } from "./scim.extension";
import { URN } from "./scim.urns";
import type { ScimDoc } from "./scim.users.mapping";

/**
 * The discovery documents (RFC 7644 §4, RFC 7643 §5–7): what this service provider supports, so that clients
 * need not guess. The User schema lists only the attributes that are stored (docs/scim.md); the others of
 * RFC 7643 §4.1 are accepted and ignored.
 */

export const BULK_MAX_OPERATIONS = 100;
export const BULK_MAX_PAYLOAD_BYTES = 1024 * 1024;

interface AttributeOptions {
  type?: "string" | "boolean" | "dateTime" | "reference" | "complex";
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned?: "always" | "never" | "default" | "request";
  uniqueness?: "none" | "server" | "global";
  referenceTypes?: string[];
  canonicalValues?: string[];
  subAttributes?: ScimDoc[];
}

function attribute(name: string, description: string, options: AttributeOptions = {}): ScimDoc {
  const type = options.type ?? "string";
  return {
    name,
    type,
    multiValued: options.multiValued ?? false,
    description,
    required: options.required ?? false,
    ...(type === "string" || type === "reference" ? { caseExact: options.caseExact ?? false } : {}),
    mutability: options.mutability ?? "readWrite",
    returned: options.returned ?? "default",
    uniqueness: options.uniqueness ?? "none",
    ...(options.referenceTypes ? { referenceTypes: options.referenceTypes } : {}),
    ...(options.canonicalValues ? { canonicalValues: options.canonicalValues } : {}),
    ...(options.subAttributes ? { subAttributes: options.subAttributes } : {}),
  };
}

function multiValuedEntry(kinds: string[]): ScimDoc[] {
  return [
    attribute("value", "The value."),
    attribute("type", "A label; the one stored value is reported as 'work'.", { canonicalValues: kinds }),
    attribute("primary", "The preferred value; the stored one is primary.", { type: "boolean" }),
  ];
}

const USER_ATTRIBUTES: ScimDoc[] = [
  attribute("userName", "The username, or the email of a user without one.", { required: true, uniqueness: "server" }),
  attribute("name", "The user's name; one text is stored (formatted, else the joined parts).", {
    type: "complex",
    subAttributes: [
      attribute("formatted", "The full name."),
      attribute("familyName", "Joined into the name when formatted is not given; not returned."),
      attribute("givenName", "Joined into the name when formatted is not given; not returned."),
      attribute("middleName", "Joined into the name when formatted is not given; not returned."),
      attribute("honorificPrefix", "Joined into the name when formatted is not given; not returned."),
      attribute("honorificSuffix", "Joined into the name when formatted is not given; not returned."),
    ],
  }),
  attribute("displayName", "The name (the same value as name.formatted)."),
  attribute("active", "Active, or disabled.", { type: "boolean" }),
  attribute("password", "Write-only; stored as a peppered scrypt hash.", {
    mutability: "writeOnly",
    returned: "never",
    caseExact: true,
  }),
  attribute("emails", "One email is stored: the primary, else the first.", {
    type: "complex",
    multiValued: true,
    required: true,
    subAttributes: multiValuedEntry(["work", "home", "other"]),
  }),
  attribute("phoneNumbers", "One E.164 number is stored: the primary, else the first.", {
    type: "complex",
    multiValued: true,
    subAttributes: multiValuedEntry(["work", "mobile", "home", "other"]),
  }),
  attribute("groups", "The user's roles (change them through Groups).", {
    type: "complex",
    multiValued: true,
    mutability: "readOnly",
    subAttributes: [
      attribute("value", "The role name (the Group's id).", { mutability: "readOnly" }),
      attribute("$ref", "The Group.", { type: "reference", referenceTypes: ["Group"], mutability: "readOnly" }),
      attribute("display", "The role name.", { mutability: "readOnly" }),
    ],
  }),
];

const GROUP_ATTRIBUTES: ScimDoc[] = [
  attribute("displayName", "The group's name; its id is the role name made from it.", {
    required: true,
    uniqueness: "server",
  }),
  attribute("members", "The users holding the role.", {
    type: "complex",
    multiValued: true,
    subAttributes: [
      attribute("value", "The user's id.", { mutability: "immutable", caseExact: true }),
      attribute("$ref", "The User.", { type: "reference", referenceTypes: ["User"], mutability: "immutable" }),
      attribute("display", "The user's username.", { mutability: "readOnly" }),
      attribute("type", "Always User.", { mutability: "immutable", canonicalValues: ["User"] }),
    ],
  }),
];

function schemaDocument(id: string, name: string, description: string, attributes: ScimDoc[], base: string) {
  return {
    schemas: [URN.schema],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: "Schema", location: `${base}/Schemas/${id}` },
  };
}

export function schemaDocuments(base: string, tenantSchema: TenantSchema): ScimDoc[] {
  return [
    schemaDocument(URN.user, "User", "User Account", USER_ATTRIBUTES, base),
    schemaDocument(URN.group, "Group", "Group (a role)", GROUP_ATTRIBUTES, base),
    extensionSchemaDocument(tenantSchema, base),
  ];
}

export function resourceTypes(base: string): ScimDoc[] {
  return [
    {
      schemas: [URN.resourceType],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "User Account",
      schema: URN.user,
      schemaExtensions: [{ schema: URN.extension, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [URN.resourceType],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "Group (a role)",
      schema: URN.group,
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfig(base: string, maxResults: number): ScimDoc {
  return {
    schemas: [URN.serviceProviderConfig],
    documentationUri: `${new URL(base).origin}/docs`,
    patch: { supported: true },
    bulk: { supported: true, maxOperations: BULK_MAX_OPERATIONS, maxPayloadSize: BULK_MAX_PAYLOAD_BYTES },
    filter: { supported: true, maxResults },
    changePassword: { supported: true },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "API key",
        description: "A tenant API key (uom_sk_…) with the scim role, as Authorization: Bearer.",
        specUri: "https://www.rfc-editor.org/rfc/rfc6750",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}

export function listResponse(resources: ScimDoc[]): ScimDoc {
  return {
    schemas: [URN.listResponse],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

export function findById(documents: ScimDoc[], id: string, what: string): ScimDoc {
  const found = documents.find((doc) => String(doc.id).toLowerCase() === id.toLowerCase());
  if (!found) throw scimError(ScimErrors.SCIM_NOT_FOUND, `No ${what} ${id}.`);
  return found;
}
