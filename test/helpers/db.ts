import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";

/** Raw access to the worker's D1 databases (the same storage the worker uses), for checks behind the API. */

export type PoolBinding = `TENANT_DB_${number}`;

export function poolDatabase(binding: string): D1Database {
  if (!/^TENANT_DB_\d+$/.test(binding)) throw new Error(`not a pool binding: ${binding}`);
  const db = (env as unknown as Record<string, D1Database | undefined>)[binding];
  if (!db) throw new Error(`${binding} is not bound`);
  return db;
}

/** The pool binding a tenant was given (from the control database). */
export async function bindingOf(tenantId: string): Promise<string> {
  const row = await env.CONTROL_DB.prepare("SELECT database_binding FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ database_binding: string }>();
  if (!row) throw new Error(`no tenant ${tenantId} in the control database`);
  return row.database_binding;
}

export async function tenantDatabase(tenantId: string): Promise<D1Database> {
  return poolDatabase(await bindingOf(tenantId));
}

/** Our tables (not SQLite's or D1's own), in creation order. */
export async function tableNames(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY rowid",
    )
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

export async function triggerNames(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

/**
 * Every row of every table of ours, as JSON text: to search a database for a value that must not be there, or
 * to compare before and after a request that must change nothing. `api_keys.last_used_at` is left out of the
 * comparison: any authenticated request, even a refused one, records its key's use, written later by an alarm. So
 * is the outbox's delivery bookkeeping (`sent_at`, `send_count`, `dispatched_at`, `dead_at`): the queue hands earlier
 * events on in the background. The queue also copies platform events (a sub-account created by an earlier request)
 * into the tenant's log: the dump first waits for the ones on their way to land.
 * So is what webhook delivery does in the background (the delivery log, an endpoint's failure count): a request's
 * earlier events may still be fanned out and delivered while the next one is checked. So are the notification log and
 * the sign-in devices it has seen: only the notifications queues' consumers write them, from the events of earlier
 * writes (a fixture's new user gets its welcome message meanwhile).
 */
/** Tables the webhook and notification queues write in the background (docs/webhooks.md, docs/notifications.md). */
const BACKGROUND_TABLES = new Set([
  "webhook_deliveries",
  "webhook_delivery_attempts",
  "notifications",
  "notification_devices",
]);

export async function dumpDatabase(db: D1Database): Promise<string> {
  await platformEventsSettled();
  const tables = await tableNames(db);
  // one round trip for every table: the security walks dump a database twice per route
  const answers = await db.batch(tables.map((table) => db.prepare(`SELECT * FROM "${table}"`)));
  return tables
    .map((table, i) => {
      const results = answers[i]?.results ?? [];
      const rows =
        table === "api_keys"
          ? results.map((row) => ({ ...(row as object), last_used_at: "(bookkeeping)" }))
          : table === "outbox_events"
            ? results.map((row) => ({ ...(row as object), ...OUTBOX_BOOKKEEPING }))
            : table === "webhook_endpoints"
              ? results.map((row) => ({ ...(row as object), consecutive_failures: "(bookkeeping)" }))
              : BACKGROUND_TABLES.has(table)
                ? "(background delivery work)"
                : results;
      return `${table}: ${JSON.stringify(rows)}`;
    })
    .join("\n");
}

/** The tables whose rows differ between two dumps (empty when none do), to say what a request changed. */
export function changedTables(before: string, after: string): string[] {
  const rowsOf = (dump: string) => new Map(dump.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line]));
  const [was, is] = [rowsOf(before), rowsOf(after)];
  return [...new Set([...was.keys(), ...is.keys()])].filter((table) => was.get(table) !== is.get(table));
}

const OUTBOX_BOOKKEEPING = {
  sent_at: "(bookkeeping)",
  send_count: "(bookkeeping)",
  dispatched_at: "(bookkeeping)",
  dead_at: "(bookkeeping)",
};

/**
 * Waits (5 s at most) until every platform event on its way (handed to the queue, or written in the last seconds and
 * about to be sent after its request) has been copied into its tenant logs (docs/events.md, "Platform events"), so
 * that a background copy is not taken for a change by the request under test.
 */
export async function platformEventsSettled(): Promise<void> {
  const end = Date.now() + 5000;
  const inFlight = () =>
    env.CONTROL_DB.prepare(
      `SELECT count(*) AS n FROM platform_events
       WHERE dispatched_at IS NULL AND dead_at IS NULL AND (sent_at IS NOT NULL OR created_at > ?)`,
    )
      .bind(new Date(Date.now() - 5000).toISOString())
      .first<{ n: number }>();
  while ((await inFlight())?.n && Date.now() < end) await sleep(20);
}

export async function count(db: D1Database, table: string, where = "1 = 1", ...params: unknown[]): Promise<number> {
  const row = await db
    .prepare(`SELECT count(*) AS n FROM "${table}" WHERE ${where}`)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Runs the worker's cron handler as the runtime would, and waits for its waitUntil work. */
export async function runCron(cron: string, scheduledTime = Date.now()): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime }), env, ctx);
  await waitOnExecutionContext(ctx);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SHA-256 hex, computed here independently of the code under test. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The rows of one table exactly as stored (raw columns), to check what is at rest. */
export async function rawRows<T = Record<string, unknown>>(
  db: D1Database,
  table: string,
  where = "1 = 1",
  ...params: unknown[]
): Promise<T[]> {
  const { results } = await db
    .prepare(`SELECT * FROM "${table}" WHERE ${where}`)
    .bind(...params)
    .all<T>();
  return results;
}
