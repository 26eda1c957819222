-- Custom roles (docs/access-control.md): the `roles` table of SCIM groups gains what a role grants. A group a
-- SCIM client created grants nothing until an admin gives it grants; built-in roles are defined in code.
ALTER TABLE roles ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
--> statement-breakpoint
ALTER TABLE roles ADD COLUMN description TEXT;
