/**
 * The `webhook_endpoints` table (tenant database; migrations/tenant/0015_webhooks.sql). Secrets stay sealed here:
 * the service opens them only to sign, and shows one only when it is made (create, rotate-secret).
 */

export type EndpointStatus = "enabled" | "disabled";
export type DisabledReason = "manual" | "gone" | "failures";

export interface EndpointRow {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  status: EndpointStatus;
  disabledReason: DisabledReason | null;
  disabledAt: string | null;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: string | null;
  consecutiveFailures: number;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface StoredEndpoint {
  id: string;
  url: string;
  events: string;
  description: string | null;
  status: EndpointStatus;
  disabled_reason: DisabledReason | null;
  disabled_at: string | null;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: string | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
  version: number;
}

export function toEndpointRow(row: StoredEndpoint): EndpointRow {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    status: row.status,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    secretSealed: row.secret_sealed,
    previousSecretSealed: row.previous_secret_sealed,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    consecutiveFailures: row.consecutive_failures,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

export async function findEndpoint(db: D1Database, id: string): Promise<EndpointRow | null> {
  const row = await db.prepare("SELECT * FROM webhook_endpoints WHERE id = ?").bind(id).first<StoredEndpoint>();
  return row ? toEndpointRow(row) : null;
}

/** Oldest first by (created_at, id), after the cursor's position. */
export async function listEndpointRows(
  db: D1Database,
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<EndpointRow[]> {
  const where = after ? "WHERE created_at > ?1 OR (created_at = ?1 AND id > ?2)" : "";
  const statement = db.prepare(`SELECT * FROM webhook_endpoints ${where} ORDER BY created_at, id LIMIT ?3`);
  const { results } = await statement.bind(after?.createdAt ?? null, after?.id ?? null, limit).all<StoredEndpoint>();
  return results.map(toEndpointRow);
}

/** The endpoints the fan-out may deliver to. */
export async function enabledEndpoints(db: D1Database): Promise<EndpointRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM webhook_endpoints WHERE status = 'enabled'")
    .all<StoredEndpoint>();
  return results.map(toEndpointRow);
}

export async function countEndpoints(db: D1Database): Promise<number> {
  const row = await db.prepare("SELECT count(*) AS n FROM webhook_endpoints").first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * The INSERT of an endpoint that inserts nothing once the tenant has `limit` endpoints: the count and the insert are
 * one statement, so concurrent creations cannot both take the last place (the caller checks `changes`).
 */
export function insertEndpointWithinQuota(db: D1Database, row: EndpointRow, limit: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO webhook_endpoints (id, url, events, description, status, secret_sealed, created_at, updated_at, version)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE (SELECT count(*) FROM webhook_endpoints) < ?10`,
    )
    .bind(
      row.id,
      row.url,
      JSON.stringify(row.events),
      row.description,
      row.status,
      row.secretSealed,
      row.createdAt,
      row.updatedAt,
      row.version,
      limit,
    );
}

export interface EndpointChange {
  url: string;
  events: readonly string[];
  description: string | null;
  status: EndpointStatus;
  disabledReason: DisabledReason | null;
  disabledAt: string | null;
  updatedAt: string;
}

/**
 * Changes the endpoint while it is still at `version`. Enabling it again starts its failure count afresh (the
 * count that disabled it says nothing about the receiver now).
 */
export function updateEndpointRow(db: D1Database, id: string, version: number, change: EndpointChange) {
  return db
    .prepare(
      `UPDATE webhook_endpoints SET url = ?1, events = ?2, description = ?3,
         consecutive_failures = CASE WHEN status = 'disabled' AND ?4 = 'enabled' THEN 0 ELSE consecutive_failures END,
         status = ?4, disabled_reason = ?5, disabled_at = ?6, updated_at = ?7, version = version + 1
       WHERE id = ?8 AND version = ?9`,
    )
    .bind(
      change.url,
      JSON.stringify(change.events),
      change.description,
      change.status,
      change.disabledReason,
      change.disabledAt,
      change.updatedAt,
      id,
      version,
    );
}

/** The new secret, the current one kept as the previous until `previousExpiresAt`. */
export function rotateSecretRow(
  db: D1Database,
  id: string,
  version: number,
  secrets: { sealed: string; previousSealed: string; previousExpiresAt: string; updatedAt: string },
) {
  return db
    .prepare(
      `UPDATE webhook_endpoints SET secret_sealed = ?1, previous_secret_sealed = ?2, previous_secret_expires_at = ?3,
         updated_at = ?4, version = version + 1
       WHERE id = ?5 AND version = ?6`,
    )
    .bind(secrets.sealed, secrets.previousSealed, secrets.previousExpiresAt, secrets.updatedAt, id, version);
}

/** Deletes the endpoint at `version`; its deliveries and their attempts go with it (ON DELETE CASCADE). */
export function deleteEndpointRow(db: D1Database, id: string, version: number) {
  return db.prepare("DELETE FROM webhook_endpoints WHERE id = ? AND version = ?").bind(id, version);
}
