import { type Migration, statementsOf } from "./migrations";

/** Where a database records the migrations applied to it. */
const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS _schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

async function appliedVersion(db: D1Database): Promise<number> {
  const row = await db
    .prepare("SELECT coalesce(max(version), 0) AS version FROM _schema_migrations")
    .first<{ version: number }>();
  return row?.version ?? 0;
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed: _schema_migrations/.test(error.message);
}

/**
 * Brings `db` to the last migration. Each migration runs in one D1 batch (one transaction) whose first
 * statement claims its version row, so when two isolates race, the loser's batch fails on the primary key
 * and rolls back whole: no migration is ever applied twice, and the loser just reads the new version.
 */
export async function migrate(db: D1Database, migrations: readonly Migration[]): Promise<number> {
  await db.prepare(BOOKKEEPING).run();
  let current = await appliedVersion(db);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    const claim = db
      .prepare("INSERT INTO _schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
      .bind(migration.version, migration.name, new Date().toISOString());
    try {
      await db.batch([claim, ...statementsOf(migration).map((sql) => db.prepare(sql))]);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    current = Math.max(current, await appliedVersion(db));
  }
  return current;
}

/**
 * Remembers, per isolate, which databases are current, so a request pays for the check only once per
 * database per isolate; concurrent first requests share one promise. A failure is forgotten (retried).
 */
export class MigrationGate {
  readonly #done = new Map<string, Promise<number>>();

  constructor(private readonly migrations: readonly Migration[]) {}

  /** `name` identifies the database (its binding name). */
  ensure(name: string, db: D1Database): Promise<number> {
    let pending = this.#done.get(name);
    if (!pending) {
      pending = migrate(db, this.migrations);
      pending.catch(() => this.#done.delete(name));
      this.#done.set(name, pending);
    }
    return pending;
  }

  forget(name: string): void {
    this.#done.delete(name);
  }
}
