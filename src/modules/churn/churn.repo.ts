import type { Band, Factor } from "./churn.model";
import type { ChurnModelReport } from "./churn.schema";

/** One user's stored score (churn_scores). */
export interface ScoreRow {
  userId: string;
  score: number;
  band: Band;
  factors: Factor[];
  suggestion: string;
  scoredAt: string;
}

interface StoredScore {
  user_id: string;
  score: number;
  band: Band;
  factors: string;
  suggestion: string;
  scored_at: string;
}

const toScore = (row: StoredScore): ScoreRow => ({
  userId: row.user_id,
  score: row.score,
  band: row.band,
  factors: JSON.parse(row.factors) as Factor[],
  suggestion: row.suggestion,
  scoredAt: row.scored_at,
});

/** Rows per INSERT: one JSON parameter each (D1 binds at most 100 parameters per statement). */
const SCORES_PER_STATEMENT = 500;

/**
 * The statements replacing the model and every score: all in the caller's batch, so a reader sees the old model
 * with its scores or the new one with its own, never a mix.
 */
export function replaceModelStatements(db: D1Database, report: ChurnModelReport, scores: ScoreRow[]) {
  const statements = [
    db
      .prepare(
        `INSERT INTO churn_model (id, model, trained_at) VALUES ('current', ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET model = excluded.model, trained_at = excluded.trained_at`,
      )
      .bind(JSON.stringify(report), report.trainedAt),
    db.prepare("DELETE FROM churn_scores"),
  ];
  for (let i = 0; i < scores.length; i += SCORES_PER_STATEMENT) {
    const chunk = scores.slice(i, i + SCORES_PER_STATEMENT).map((s) => ({ ...s, factors: JSON.stringify(s.factors) }));
    statements.push(
      db
        .prepare(
          `INSERT INTO churn_scores (user_id, score, band, factors, suggestion, scored_at)
           SELECT value ->> 'userId', value ->> 'score', value ->> 'band', value ->> 'factors',
                  value ->> 'suggestion', value ->> 'scoredAt'
           FROM json_each(?)`,
        )
        .bind(JSON.stringify(chunk)),
    );
  }
  return statements;
}

export async function readModel(db: D1Database): Promise<ChurnModelReport | null> {
  const row = await db.prepare("SELECT model FROM churn_model WHERE id = 'current'").first<{ model: string }>();
  return row ? (JSON.parse(row.model) as ChurnModelReport) : null;
}

export async function readScore(db: D1Database, userId: string): Promise<ScoreRow | null> {
  const row = await db.prepare("SELECT * FROM churn_scores WHERE user_id = ?").bind(userId).first<StoredScore>();
  return row ? toScore(row) : null;
}

/** Live users' scores, highest first (then by user id, descending), after the keyset position `after`. */
export async function listScores(
  db: D1Database,
  options: { band?: Band; after: readonly [number, string] | null; limit: number },
): Promise<ScoreRow[]> {
  const where = ["u.status <> 'deleted'"];
  const params: unknown[] = [];
  if (options.band) {
    where.push("s.band = ?");
    params.push(options.band);
  }
  if (options.after) {
    where.push("(s.score < ? OR (s.score = ? AND s.user_id < ?))");
    params.push(options.after[0], options.after[0], options.after[1]);
  }
  const { results } = await db
    .prepare(
      `SELECT s.* FROM churn_scores s JOIN users u ON u.id = s.user_id
       WHERE ${where.join(" AND ")} ORDER BY s.score DESC, s.user_id DESC LIMIT ?`,
    )
    .bind(...params, options.limit + 1)
    .all<StoredScore>();
  return results.map(toScore);
}

/** The notification template events the tenant has, for the suggestions. */
export async function templateEvents(db: D1Database): Promise<Set<string>> {
  const { results } = await db.prepare("SELECT DISTINCT event FROM notification_templates").all<{ event: string }>();
  return new Set(results.map((row) => row.event));
}
