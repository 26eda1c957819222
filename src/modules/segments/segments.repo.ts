/**
 * The segments tables (migrations/tenant/0023_segments.sql). Saved segments are written one at a time with their
 * audit row; learned segments only by retraining, which replaces all of them and their members in one batch.
 */

export interface SavedSegmentRow {
  name: string;
  description: string | null;
  filter: string;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface LearnedSegmentRow {
  name: string;
  description: string;
  size: number;
  centroid: string;
  silhouette: number;
  trained_at: string;
}

export interface TrainingRow {
  status: "trained" | "too_few_users";
  k: number | null;
  silhouette: number | null;
  users: number;
  detail: string;
  trained_at: string;
}

/** Members per statement: they travel as one JSON parameter, so D1's 100-parameter cap is no limit. */
const MEMBER_CHUNK = 1_000;

export async function listSavedRows(db: D1Database): Promise<SavedSegmentRow[]> {
  const { results } = await db.prepare("SELECT * FROM segments ORDER BY name").all<SavedSegmentRow>();
  return results;
}

export function findSavedRow(db: D1Database, name: string): Promise<SavedSegmentRow | null> {
  return db.prepare("SELECT * FROM segments WHERE name = ?").bind(name).first<SavedSegmentRow>();
}

export async function listLearnedRows(db: D1Database): Promise<LearnedSegmentRow[]> {
  const { results } = await db.prepare("SELECT * FROM learned_segments ORDER BY name").all<LearnedSegmentRow>();
  return results;
}

export function findLearnedRow(db: D1Database, name: string): Promise<LearnedSegmentRow | null> {
  return db.prepare("SELECT * FROM learned_segments WHERE name = ?").bind(name).first<LearnedSegmentRow>();
}

export function findTraining(db: D1Database): Promise<TrainingRow | null> {
  return db.prepare("SELECT * FROM learned_segment_training WHERE id = 1").first<TrainingRow>();
}

/**
 * The saved segments (name, filter) and the learned ones (name, filter NULL) among `names`: one query, so a users
 * filter naming segments resolves them before it is compiled.
 */
export async function resolveNames(
  db: D1Database,
  names: readonly string[],
): Promise<Map<string, { filter: string | null }>> {
  const { results } = await db
    .prepare(
      `SELECT name, filter FROM segments WHERE name IN (SELECT value FROM json_each(?1))
       UNION ALL SELECT name, NULL FROM learned_segments WHERE name IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(names))
    .all<{ name: string; filter: string | null }>();
  return new Map(results.map((row) => [row.name, { filter: row.filter }]));
}

/** Inserts unless the tenant already has `limit` saved segments (then changes nothing); a taken name fails. */
export function insertSavedWithinLimit(db: D1Database, row: SavedSegmentRow, limit: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO segments (name, description, filter, created_at, updated_at, version)
       SELECT ?, ?, ?, ?, ?, 1 WHERE (SELECT count(*) FROM segments) < ?`,
    )
    .bind(row.name, row.description, row.filter, row.created_at, row.updated_at, limit);
}

export function updateSavedRow(db: D1Database, row: SavedSegmentRow, version: number): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE segments SET description = ?, filter = ?, updated_at = ?, version = version + 1 WHERE name = ? AND version = ?",
    )
    .bind(row.description, row.filter, row.updated_at, row.name, version);
}

export function deleteSavedRow(db: D1Database, name: string, version: number): D1PreparedStatement {
  return db.prepare("DELETE FROM segments WHERE name = ? AND version = ?").bind(name, version);
}

/** Live users among each learned segment's members, now (members deleted since training are not counted). */
export async function learnedCounts(db: D1Database): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      `SELECT m.segment, count(*) AS n FROM learned_segment_members m JOIN users u ON u.id = m.user_id
       WHERE u.status <> 'deleted' GROUP BY m.segment`,
    )
    .all<{ segment: string; n: number }>();
  return new Map(results.map((row) => [row.segment, row.n]));
}

export interface LearnedWrite {
  segments: LearnedSegmentRow[];
  members: { userId: string; segment: string }[];
  training: TrainingRow;
}

/** Everything a training writes, replacing the previous training's rows: for one batch. */
export function replaceLearnedStatements(db: D1Database, write: LearnedWrite): D1PreparedStatement[] {
  const statements = [db.prepare("DELETE FROM learned_segment_members"), db.prepare("DELETE FROM learned_segments")];
  if (write.segments.length > 0) {
    statements.push(
      db
        .prepare(
          `INSERT INTO learned_segments (name, description, size, centroid, silhouette, trained_at)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`,
        )
        .bind(
          JSON.stringify(
            write.segments.map((s) => [s.name, s.description, s.size, s.centroid, s.silhouette, s.trained_at]),
          ),
        ),
    );
  }
  for (let i = 0; i < write.members.length; i += MEMBER_CHUNK) {
    const chunk = write.members.slice(i, i + MEMBER_CHUNK).map((m) => [m.userId, m.segment]);
    statements.push(
      db
        .prepare(
          "INSERT INTO learned_segment_members (user_id, segment) SELECT value ->> 0, value ->> 1 FROM json_each(?)",
        )
        .bind(JSON.stringify(chunk)),
    );
  }
  const t = write.training;
  statements.push(
    db
      .prepare(
        `INSERT INTO learned_segment_training (id, status, k, silhouette, users, detail, trained_at)
         VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, k = excluded.k, silhouette = excluded.silhouette,
           users = excluded.users, detail = excluded.detail, trained_at = excluded.trained_at`,
      )
      .bind(t.status, t.k, t.silhouette, t.users, t.detail, t.trained_at),
  );
  return statements;
}
