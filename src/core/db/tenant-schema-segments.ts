import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

// Mirrors migrations/tenant/0023_segments.sql (docs/segments.md); re-exported by tenant-schema.ts.

/** Saved segments: a name (a slug) and a users filter. */
export const segments = sqliteTable("segments", {
  name: text("name").primaryKey(),
  description: text("description"),
  filter: text("filter").notNull(),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
  version: integer("version").notNull().default(1),
});

/** Learned segments (`learned:<slug>`), replaced together by each training. */
export const learnedSegments = sqliteTable("learned_segments", {
  name: text("name").primaryKey(),
  description: text("description").notNull(),
  size: integer("size").notNull(),
  centroid: text("centroid").notNull(),
  silhouette: real("silhouette").notNull(),
  trainedAt: text("trained_at").notNull(),
});

/** Each clustered user's learned segment. */
export const learnedSegmentMembers = sqliteTable(
  "learned_segment_members",
  {
    userId: text("user_id").primaryKey(),
    segment: text("segment").notNull(),
  },
  (t) => [index("learned_segment_members_segment_idx").on(t.segment, t.userId)],
);

/** The last training's outcome (one row). */
export const learnedSegmentTraining = sqliteTable("learned_segment_training", {
  id: integer("id").primaryKey(),
  status: text("status").notNull(),
  k: integer("k"),
  silhouette: real("silhouette"),
  users: integer("users").notNull(),
  detail: text("detail").notNull(),
  trainedAt: text("trained_at").notNull(),
});
