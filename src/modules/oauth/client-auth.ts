import { parseCustomRoles } from "../../core/auth/custom-roles";
import type { Grants } from "../../core/auth/grants";
import { credentialGuard } from "../../core/auth/guard";
import { grantsOfRoles } from "../../core/auth/permissions";
import { constantTimeEqual, sha256Hex } from "../../core/crypto/hash";
import { controlDb, tenantDatabases } from "../../core/db/databases";
import type { Plan } from "../../core/plans";
import type { TenantRef } from "../../env";
import { findClientWithCustomRoles } from "./clients.repo";
import type { GrantType } from "./clients.schema";
import { OAuthError } from "./oauth-error";

/** What authenticating a client needs, and what a grant needs of it. */
export interface OAuthClient {
  /** `cli_…`: the resource id, the actor id and the guard name. */
  id: string;
  /** The OAuth client_id. */
  clientId: string;
  tenant: TenantRef;
  secretHash: string;
  grantTypes: readonly GrantType[];
  roles: readonly string[];
  permissions: Grants;
}

interface CacheEntry {
  client: Promise<OAuthClient | null>;
  until: number;
  tenantId?: string;
}

/**
 * Clients by client_id, kept per isolate for CREDENTIAL_CACHE_SECONDS so that a warm grant spends no D1 query.
 * A deleted client is stopped at once by its guard (revoked before the rows change), not by this cache.
 */
const cache = new Map<string, CacheEntry>();
const MAX_ENTRIES = 10_000;
const NEGATIVE_SECONDS = 2;

interface IndexRow {
  tenant_id: string;
  plan: Plan;
  parent_id: string | null;
  database_binding: string;
}

async function lookup(env: Env, clientId: string): Promise<OAuthClient | null> {
  const control = await controlDb(env);
  const index = await control
    .prepare(
      `SELECT t.id AS tenant_id, t.plan, t.parent_id, t.database_binding
       FROM oauth_client_index i JOIN tenants t ON t.id = i.tenant_id WHERE i.client_id = ?`,
    )
    .bind(clientId)
    .first<IndexRow>();
  if (!index) return null;
  const tenant: TenantRef = {
    id: index.tenant_id,
    plan: index.plan,
    parentId: index.parent_id,
    databaseBinding: index.database_binding,
  };
  const row = await findClientWithCustomRoles(await tenantDatabases.forTenant(env, tenant), clientId);
  if (!row) return null;
  return {
    id: row.id,
    clientId: row.clientId,
    tenant,
    secretHash: row.secretHash,
    grantTypes: row.grantTypes as GrantType[],
    roles: row.roles,
    // custom roles come with the row (one query) and are cached with the client
    permissions: grantsOfRoles(row.roles, parseCustomRoles(row.customRoles, tenant.plan)),
  };
}

export async function findClient(env: Env, clientId: string): Promise<OAuthClient | null> {
  const now = Date.now();
  const hit = cache.get(clientId);
  if (hit && hit.until > now) return hit.client;
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  const entry: CacheEntry = { client: lookup(env, clientId), until: now + NEGATIVE_SECONDS * 1000 };
  cache.set(clientId, entry);
  try {
    const client = await entry.client;
    if (client) {
      entry.until = now + Number(env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000;
      entry.tenantId = client.tenant.id;
    }
    return client;
  } catch (error) {
    if (cache.get(clientId) === entry) cache.delete(clientId);
    throw error;
  }
}

export function forgetClient(clientId: string): void {
  cache.delete(clientId);
}

export function forgetClientsOfTenant(tenantId: string): void {
  for (const [clientId, entry] of cache) if (entry.tenantId === tenantId) cache.delete(clientId);
}

/** RFC 6749 §2.3.1 / Appendix B: the Basic user and password are form-urlencoded before base64. */
function formUrlDecode(text: string): string {
  return decodeURIComponent(text.replaceAll("+", " "));
}

interface PresentedCredentials {
  clientId: string;
  secret: string;
  method: "client_secret_basic" | "client_secret_post";
}

const BASIC_CHALLENGE = { "WWW-Authenticate": 'Basic realm="uom", charset="UTF-8"' };

function invalidClient(description: string, basic: boolean): OAuthError {
  return new OAuthError("invalid_client", description, 401, basic ? BASIC_CHALLENGE : {});
}

function presented(authorization: string | undefined, form: URLSearchParams): PresentedCredentials {
  const basic = /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(authorization ?? "");
  const bodyId = form.get("client_id");
  const bodySecret = form.get("client_secret");
  if (authorization !== undefined && !basic) {
    throw invalidClient("Authenticate the client with HTTP Basic (RFC 6749 §2.3.1) or client_secret_post.", true);
  }
  if (basic) {
    // RFC 6749 §2.3: one authentication method per request
    if (bodySecret !== null) throw new OAuthError("invalid_request", "Use HTTP Basic or client_secret, not both.");
    let user: string;
    let password: string;
    try {
      const decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(atob(basic[1] as string), (ch) => ch.charCodeAt(0)),
      );
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new Error("no colon");
      user = formUrlDecode(decoded.slice(0, colon));
      password = formUrlDecode(decoded.slice(colon + 1));
    } catch {
      throw invalidClient("The Basic credentials are malformed.", true);
    }
    if (bodyId !== null && bodyId !== user) {
      throw new OAuthError("invalid_request", "client_id in the body differs from the authenticated client.");
    }
    return { clientId: user, secret: password, method: "client_secret_basic" };
  }
  if (bodyId === null || bodySecret === null) {
    throw invalidClient("Client authentication is required (HTTP Basic or client_id and client_secret).", true);
  }
  return { clientId: bodyId, secret: bodySecret, method: "client_secret_post" };
}

export interface AuthenticatedClient {
  client: OAuthClient;
  /** The client's guard verdict, asked for at once and awaited by `assertClientActive` (one call per request). */
  verdict: Promise<{ ok: boolean }>;
  basic: boolean;
}

/**
 * Authenticates the client of an OAuth request (RFC 6749 §2.3.1): HTTP Basic or client_id/client_secret in the
 * body. The secret is compared by its SHA-256 in constant time; an unknown client costs the same hashing.
 * The guard call starts here, so it runs while the caller does its own work.
 */
export async function authenticateClient(
  env: Env,
  authorization: string | undefined,
  form: URLSearchParams,
): Promise<AuthenticatedClient> {
  const credentials = presented(authorization, form);
  const basic = credentials.method === "client_secret_basic";
  const [client, hash] = await Promise.all([findClient(env, credentials.clientId), sha256Hex(credentials.secret)]);
  const matches = await constantTimeEqual(hash, client?.secretHash ?? "0".repeat(64));
  if (!client || !matches) throw invalidClient("The client is unknown or its secret is wrong.", basic);
  const verdict = credentialGuard(env, `client:${client.id}`).check({});
  // awaited by assertClientActive; a request that fails before then must not leave it unhandled
  verdict.catch(() => undefined);
  return { client, verdict, basic };
}

/** Awaits the guard verdict: a deleted client is refused at once, whatever any cache says. */
export async function assertClientActive(authenticated: AuthenticatedClient): Promise<void> {
  const verdict = await authenticated.verdict;
  if (!verdict.ok) throw invalidClient("The client has been deleted.", authenticated.basic);
}

export function assertGrantAllowed(client: OAuthClient, grant: GrantType): void {
  if (!client.grantTypes.includes(grant)) {
    throw new OAuthError("unauthorized_client", `This client may not use the ${grant} grant.`);
  }
}
