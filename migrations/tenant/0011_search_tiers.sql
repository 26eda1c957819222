-- A search excludes soft-deleted users by rowid through this partial index (few entries: only deleted users),
-- instead of reading the `users` row of every hit to look at its status (src/modules/users/users.list.ts).
CREATE INDEX users_deleted_idx ON users (status) WHERE status = 'deleted';
