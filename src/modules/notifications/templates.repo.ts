import type { Channel, NotifiableEvent } from "./catalogue";
import type { TemplateContent } from "./defaults";

/** The `notification_templates` table (tenant database): the tenant's own templates. */

export interface TemplateRow extends TemplateContent {
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface StoredTemplate {
  id: string;
  name: string;
  event: string;
  channel: string;
  locale: string;
  subject: string | null;
  html: string | null;
  text: string;
  created_at: string;
  updated_at: string;
  version: number;
}

function toRow(row: StoredTemplate): TemplateRow {
  return {
    id: row.id,
    name: row.name,
    event: row.event as NotifiableEvent,
    channel: row.channel as Channel,
    locale: row.locale,
    subject: row.subject,
    html: row.html,
    text: row.text,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

export async function listTemplateRows(
  db: D1Database,
  filter: { event?: string | undefined; channel?: string | undefined; locale?: string | undefined },
): Promise<TemplateRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM notification_templates
       WHERE (?1 IS NULL OR event = ?1) AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR locale = ?3)
       ORDER BY event, channel, locale`,
    )
    .bind(filter.event ?? null, filter.channel ?? null, filter.locale ?? null)
    .all<StoredTemplate>();
  return results.map(toRow);
}

export async function findTemplateRow(db: D1Database, id: string): Promise<TemplateRow | null> {
  const row = await db.prepare("SELECT * FROM notification_templates WHERE id = ?").bind(id).first<StoredTemplate>();
  return row ? toRow(row) : null;
}

/** The tenant's templates of one event and channel in these locales (the sender's lookup). */
export async function templatesFor(
  db: D1Database,
  event: string,
  channel: Channel,
  locales: readonly string[],
): Promise<TemplateRow[]> {
  const { results } = await db
    .prepare(
      "SELECT * FROM notification_templates WHERE event = ? AND channel = ? AND locale IN (SELECT value FROM json_each(?))",
    )
    .bind(event, channel, JSON.stringify(locales))
    .all<StoredTemplate>();
  return results.map(toRow);
}

export function insertTemplateRow(db: D1Database, row: TemplateRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO notification_templates
         (id, name, event, channel, locale, subject, html, text, created_at, updated_at, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      row.id,
      row.name,
      row.event,
      row.channel,
      row.locale,
      row.subject,
      row.html,
      row.text,
      row.createdAt,
      row.updatedAt,
      row.version,
    );
}

/** Changes the template only while it is still at `version`. */
export function updateTemplateRow(db: D1Database, row: TemplateRow, version: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE notification_templates SET name = ?, subject = ?, html = ?, text = ?, updated_at = ?, version = version + 1
       WHERE id = ? AND version = ?`,
    )
    .bind(row.name, row.subject, row.html, row.text, row.updatedAt, row.id, version);
}

export function deleteTemplateRow(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM notification_templates WHERE id = ?").bind(id);
}
