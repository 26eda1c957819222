-- Dated API versions (docs/versioning.md). Each key is pinned to the version it was created with; a request without
-- a Uom-Version header is answered in it. Keys created before pinning existed get 2026-11-01, the shape they have
-- always been answered in, so they keep it when newer versions are released.
ALTER TABLE api_keys ADD COLUMN api_version TEXT NOT NULL DEFAULT '2026-11-01';
--> statement-breakpoint
-- One row per day (UTC), credential and deprecated route called: api.deprecated_endpoint_called is emitted only with
-- a new row. Rows before yesterday are deleted as new ones are written.
CREATE TABLE deprecation_notices (
  day TEXT NOT NULL,
  credential TEXT NOT NULL,
  route TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (day, credential, route)
);
