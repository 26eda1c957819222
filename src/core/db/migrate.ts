import { type Migration, statementsOf } from "./migrations";

/** Where a database records the migrations applied to it. */
const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS _schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

async function appliedVersions(db: D1Database): Promise<Set<number>> {
  const { results } = await db.prepare("SELECT version FROM _schema_migrations").all<{ version: number }>();
  return new Set(results.map((row) => row.version));
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed: _schema_migrations/.test(error.message);
}

/**
 * Brings `db` to the last migration. Each migration runs in one D1 batch (one transaction) whose first
 * statement claims its version row, so when two isolates race, the loser's batch fails on the primary key
 * and rolls back whole: no migration is ever applied twice, and the loser just reads the new version.
 * Every migration not yet recorded is applied, not only those above the highest: branches merge their numbered
 * migrations in any order (a database may have 17 before 16 arrives), so a gap is filled rather than skipped.
 * Returns the highest version applied.
 */
export async function migrate(db: D1Database, migrations: readonly Migration[]): Promise<number> {
  await db.prepare(BOOKKEEPING).run();
  let applied = await appliedVersions(db);
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    const claim = db
      .prepare("INSERT INTO _schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
      .bind(migration.version, migration.name, new Date().toISOString());
    try {
      await db.batch([claim, ...statementsOf(migration).map((sql) => db.prepare(sql))]);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    applied = await appliedVersions(db);
  }
  return Math.max(0, ...applied);
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
