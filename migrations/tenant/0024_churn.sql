-- Churn prediction (docs/churn.md): the tenant's latest model and every live user's latest score. Both are rewritten
-- whole by each training (the daily cron, or POST /v1/insights/churn/model/train): no history is kept.
--
-- churn_model holds one row (id = 'current'): the coefficients, the standardisation of each feature and the holdout
-- metrics, as JSON (read whole, never queried inside).
CREATE TABLE churn_model (
  id TEXT PRIMARY KEY CHECK (id = 'current'),
  model TEXT NOT NULL,
  trained_at TEXT NOT NULL
);
--> statement-breakpoint
-- factors: JSON [{feature, value, contribution, description}], the top 3 by contribution.
CREATE TABLE churn_scores (
  user_id TEXT PRIMARY KEY,
  score REAL NOT NULL,
  band TEXT NOT NULL CHECK (band IN ('low', 'medium', 'high')),
  factors TEXT NOT NULL,
  suggestion TEXT NOT NULL,
  scored_at TEXT NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
-- GET /v1/insights/churn: highest score first (then user id, descending: one backward index scan), optionally
-- one band, keyset-paged on (score, user_id).
CREATE INDEX churn_scores_rank_idx ON churn_scores (band, score, user_id);
--> statement-breakpoint
CREATE INDEX churn_scores_score_idx ON churn_scores (score, user_id);
