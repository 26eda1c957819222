import SCIMMY from "scimmy";
import { expect } from "vitest";
import { call, createTenant, json, type TestTenant } from "../helpers/api";

export const SCIM = "/scim/v2";
export const URN_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const URN_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const URN_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const URN_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
export const URN_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

export type Doc = Record<string, unknown> & { id: string; meta: { version: string; location: string } };

/** A tenant (its admin key) and a key holding only the built-in `scim` role, as a provisioning client gets. */
export interface ScimTenant extends TestTenant {
  scim: string;
}

export async function createScimTenant(name: string): Promise<ScimTenant> {
  const tenant = await createTenant({ name });
  const response = await call("POST", "/v1/api-keys", { token: tenant.key, body: { name: "Okta", roles: ["scim"] } });
  expect(response.status).toBe(201);
  return { ...tenant, scim: (await json<{ secret: string }>(response)).secret };
}

/** A SCIM request as clients send it: `application/scim+json`. */
export function scim(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return call(method, `${SCIM}${path}`, {
    token,
    headers: { "content-type": "application/scim+json", ...headers },
    ...(body === undefined ? {} : { rawBody: JSON.stringify(body) }),
  });
}

export async function scimBody<T = Doc>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/scim\+json/);
  return JSON.parse(text) as T;
}

/** Asserts an RFC 7644 §3.12 error with this status (and scimType), and returns it. */
export async function expectScimError(response: Response, status: number, scimType?: string) {
  const body = await scimBody<{ schemas: string[]; status: string; scimType?: string; detail: string }>(
    response,
    status,
  );
  expect(body.schemas).toEqual([URN_ERROR]);
  expect(body.status).toBe(String(status));
  if (scimType) expect(body.scimType).toBe(scimType);
  else expect(body.scimType).toBeUndefined();
  expect(typeof body.detail).toBe("string");
  // scimmy's error message accepts the status and scimType together (RFC 7644 §3.12 pairs them) and says the same
  // (for the statuses RFC 7644 §3.12 lists; 405 and 415 are plain HTTP answers it does not)
  if (![405, 415].includes(status)) {
    const { schemas, ...cause } = body;
    const reference = new SCIMMY.Messages.ErrorResponse(cause as never);
    expect({ ...reference }).toEqual(body);
  }
  return body;
}

/**
 * Validates a User or Group against scimmy's definitions of the RFC 7643 schemas (outbound direction): the
 * coerced copy must keep every attribute we sent (nothing unknown, no wrong type, canonical values only).
 */
export function expectValidResource(doc: Record<string, unknown>, kind: "User" | "Group"): void {
  const definition = kind === "User" ? SCIMMY.Schemas.User.definition : SCIMMY.Schemas.Group.definition;
  const { schemas, ...rest } = doc;
  expect(schemas).toContain(kind === "User" ? URN_USER : URN_GROUP);
  const coerced = definition.coerce(rest, "out") as Record<string, unknown>;
  for (const key of Object.keys(rest)) {
    if (key.startsWith("urn:")) continue;
    expect(coerced[key], `${kind}.${key} survives scimmy's coercion`).toBeDefined();
  }
}

let counter = 0;
export function uniqueName(prefix = "user"): string {
  counter++;
  return `${prefix}${counter}${crypto.randomUUID().slice(0, 6)}`;
}

export function newUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const userName = uniqueName();
  return {
    schemas: [URN_USER],
    userName,
    name: { formatted: "Ada Lovelace" },
    emails: [{ value: `${userName}@example.com`, type: "work", primary: true }],
    active: true,
    ...overrides,
  };
}

export async function createScimUser(token: string, overrides: Record<string, unknown> = {}): Promise<Doc> {
  return scimBody(await scim(token, "POST", "/Users", newUser(overrides)), 201);
}

export function patchOp(...operations: Record<string, unknown>[]) {
  return { schemas: [URN_PATCH], Operations: operations };
}
