-- SCIM 2.0 (docs/scim.md). `external_id` is the provisioning client's identifier of the user (RFC 7643 §3.1,
-- `externalId`); Okta and Entra ID look users up by it, so it is unique (several NULLs are allowed).
ALTER TABLE users ADD COLUMN external_id TEXT;
--> statement-breakpoint
CREATE UNIQUE INDEX users_external_id_idx ON users (external_id) WHERE external_id IS NOT NULL;
--> statement-breakpoint
-- Roles known by name: the groups a SCIM client created (a group may have no members yet, so it cannot live
-- only in users.roles). Generic on purpose: custom roles (the access-control issue) build on this table.
-- `display_name` is the group's SCIM displayName; `external_id` the client's id for it.
CREATE TABLE roles (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  external_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
--> statement-breakpoint
CREATE UNIQUE INDEX roles_display_name_idx ON roles (display_name COLLATE NOCASE);
--> statement-breakpoint
CREATE UNIQUE INDEX roles_external_id_idx ON roles (external_id) WHERE external_id IS NOT NULL;
