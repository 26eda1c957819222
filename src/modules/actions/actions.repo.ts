import type { Action, ActionTrigger, Execution } from "./actions.schema";

export interface ActionRow {
  id: string;
  name: string;
  trigger: ActionTrigger;
  url: string;
  timeout_ms: number;
  failure_policy: "open" | "closed";
  enabled: number;
  secret_sealed: string;
  version: number;
  created_at: string;
  updated_at: string;
}

interface ExecutionRow {
  id: string;
  action_id: string;
  trigger: ActionTrigger;
  outcome: Execution["outcome"];
  http_status: number | null;
  duration_ms: number;
  error: string | null;
  created_at: string;
}

/** The execution log keeps this many calls per action (the oldest go as new ones come). */
export const EXECUTIONS_KEPT = 100;

export function toAction(row: ActionRow): Action {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    trigger: row.trigger,
    timeoutMs: row.timeout_ms,
    failurePolicy: row.failure_policy,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function insertAction(db: D1Database, row: ActionRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO actions (id, name, trigger, url, timeout_ms, failure_policy, enabled, secret_sealed, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      row.id,
      row.name,
      row.trigger,
      row.url,
      row.timeout_ms,
      row.failure_policy,
      row.enabled,
      row.secret_sealed,
      row.version,
      row.created_at,
      row.updated_at,
    );
}

export function updateAction(db: D1Database, row: ActionRow, version: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE actions SET name = ?, trigger = ?, url = ?, timeout_ms = ?, failure_policy = ?, enabled = ?,
         version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
    )
    .bind(
      row.name,
      row.trigger,
      row.url,
      row.timeout_ms,
      row.failure_policy,
      row.enabled,
      row.updated_at,
      row.id,
      version,
    );
}

export function deleteAction(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM actions WHERE id = ?").bind(id);
}

export function deleteExecutions(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM action_executions WHERE action_id = ?").bind(id);
}

export async function findAction(db: D1Database, id: string): Promise<ActionRow | null> {
  return db.prepare("SELECT * FROM actions WHERE id = ?").bind(id).first<ActionRow>();
}

export async function listActions(db: D1Database): Promise<ActionRow[]> {
  return (await db.prepare("SELECT * FROM actions ORDER BY created_at, id").all<ActionRow>()).results;
}

/** The enabled actions of a trigger, in the order they run (oldest first). */
export async function actionsOf(db: D1Database, trigger: ActionTrigger): Promise<ActionRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM actions WHERE trigger = ? AND enabled = 1 ORDER BY created_at, id")
    .bind(trigger)
    .all<ActionRow>();
  return results;
}

export function recordExecution(db: D1Database, actionId: string, execution: Execution): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO action_executions (id, action_id, trigger, outcome, http_status, duration_ms, error, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        execution.id,
        actionId,
        execution.trigger,
        execution.outcome,
        execution.httpStatus,
        execution.durationMs,
        execution.error,
        execution.createdAt,
      ),
    db
      .prepare(
        `DELETE FROM action_executions WHERE action_id = ?1 AND id NOT IN (
           SELECT id FROM action_executions WHERE action_id = ?1 ORDER BY id DESC LIMIT ${EXECUTIONS_KEPT})`,
      )
      .bind(actionId),
  ];
}

export async function listExecutions(db: D1Database, actionId: string, limit: number): Promise<Execution[]> {
  const { results } = await db
    .prepare("SELECT * FROM action_executions WHERE action_id = ? ORDER BY id DESC LIMIT ?")
    .bind(actionId, limit)
    .all<ExecutionRow>();
  return results.map((row) => ({
    id: row.id,
    trigger: row.trigger,
    outcome: row.outcome,
    httpStatus: row.http_status,
    durationMs: row.duration_ms,
    error: row.error,
    createdAt: row.created_at,
  }));
}
