-- Segments (docs/segments.md): saved segments (a name and a users filter, written by the tenant) and learned segments
-- (clusters of users' behaviour, written only by retraining, which replaces them all in one batch).
--
-- Saved names are slugs ([a-z0-9-]); learned names are `learned:<slug>`, so the two never clash.
CREATE TABLE segments (
  name TEXT PRIMARY KEY,
  description TEXT,
  filter TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
--> statement-breakpoint
-- centroid: JSON, each behaviour feature's mean over the members in its own units (days, counts); silhouette: the
-- mean silhouette of its (sampled) members.
CREATE TABLE learned_segments (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  size INTEGER NOT NULL,
  centroid TEXT NOT NULL,
  silhouette REAL NOT NULL,
  trained_at TEXT NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
-- One row per user clustered by the last training: which learned segment the user belongs to.
CREATE TABLE learned_segment_members (
  user_id TEXT PRIMARY KEY,
  segment TEXT NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX learned_segment_members_segment_idx ON learned_segment_members (segment, user_id);
--> statement-breakpoint
-- One row (id 1): how the last training went (trained, or skipped because too few users), so the API can say so.
CREATE TABLE learned_segment_training (
  id INTEGER PRIMARY KEY,
  status TEXT NOT NULL,
  k INTEGER,
  silhouette REAL,
  users INTEGER NOT NULL,
  detail TEXT NOT NULL,
  trained_at TEXT NOT NULL
);
