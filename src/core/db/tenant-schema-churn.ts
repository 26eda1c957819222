import { index, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0024_churn.sql (docs/churn.md); re-exported by tenant-schema.ts.

/** The tenant's latest churn model: one row, `id = 'current'`, its coefficients and metrics as JSON. */
export const churnModel = sqliteTable("churn_model", {
  id: text("id").primaryKey(),
  model: text("model").notNull(),
  trainedAt: text("trained_at").notNull(),
});

/** Every live user's latest churn score, rewritten by each training. */
export const churnScores = sqliteTable(
  "churn_scores",
  {
    userId: text("user_id").primaryKey(),
    score: real("score").notNull(),
    band: text("band").notNull(),
    factors: text("factors").notNull(),
    suggestion: text("suggestion").notNull(),
    scoredAt: text("scored_at").notNull(),
  },
  (t) => [
    index("churn_scores_rank_idx").on(t.band, t.score, t.userId),
    index("churn_scores_score_idx").on(t.score, t.userId),
  ],
);
