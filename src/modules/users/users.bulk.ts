import { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import { assertPreviousChanged, clearAssertions, isAssertionFailure, uniqueViolation } from "../../core/db/statements";
import type { UserRow } from "../../core/db/tenant-schema";
import { ApiError, problemBody } from "../../core/errors";
import { JsonValueSchema } from "../../core/http/json-value";
import type { Json } from "../../core/http/merge-patch";
import type { ProblemSchema } from "../../core/http/problem-schema";
import { fieldErrors, validationError } from "../../core/http/validation";
import { UserErrors } from "./users.errors";
import { normalizeEmail, normalizeUsername, toUser } from "./users.mapping";
import { conflictFor, notFound, type Plan, planCreate, planRestore, planSoftDelete, planUpdate } from "./users.plans";
import { findTaken, findUsers } from "./users.repo";
import { CreateUserSchema } from "./users.schema";

export const BULK_MAX_OPERATIONS = 1000;
/** Password hashing is deliberately slow (PBKDF2); more than this many in one request would blow the CPU budget. */
export const BULK_MAX_PASSWORDS = 20;

export const BulkOperationSchema = z
  .strictObject({
    op: z.enum(["create", "update", "delete", "restore"]),
    id: z.string().max(64).optional(),
    data: z.record(z.string(), JsonValueSchema).optional(),
  })
  .superRefine((op, ctx) => {
    if (op.op !== "create" && !op.id)
      ctx.addIssue({ code: "custom", path: ["id"], message: `'${op.op}' needs an id.` });
    if (op.op === "create" && op.id) ctx.addIssue({ code: "custom", path: ["id"], message: "'create' takes no id." });
    if ((op.op === "create" || op.op === "update") && !op.data) {
      ctx.addIssue({ code: "custom", path: ["data"], message: `'${op.op}' needs data.` });
    }
  })
  .openapi("BulkOperation");

export interface BulkItemResult {
  index: number;
  status: number;
  id?: string;
  data?: ReturnType<typeof toUser>;
  error?: z.infer<typeof ProblemSchema>;
}

interface Planned {
  index: number;
  plan: Plan;
}

type Outcome = { index: number; plan: Plan } | { index: number; error: ApiError };

const STATUS: Record<Plan["action"], number> = {
  "user.created": 201,
  "user.updated": 200,
  "user.deleted": 200,
  "user.restored": 200,
  "user.purged": 204,
};

/**
 * Plans every operation in order against an in-memory view of the users it touches (so two operations on
 * one user see each other), after one round of prefetching: the users named by id and the emails and
 * usernames that are already taken. Then commits: atomic → one batch with an assertion after every guarded
 * change, so a concurrent write aborts it all; otherwise → one batch that skips what conflicts, and each
 * skipped item is retried on its own to report exactly why.
 */
export async function bulk(
  ctx: ServiceContext,
  operations: readonly unknown[],
  atomic: boolean,
): Promise<{ results: BulkItemResult[]; committed: boolean }> {
  if (operations.length > BULK_MAX_OPERATIONS) {
    throw new ApiError(UserErrors.BULK_TOO_LARGE, {
      detail: `At most ${BULK_MAX_OPERATIONS} operations per request; got ${operations.length}.`,
    });
  }
  const at = new Date().toISOString();
  const parsed = operations.map((raw) => BulkOperationSchema.safeParse(raw));
  const passwords = parsed.filter((p) => p.success && p.data.data && "password" in p.data.data).length;
  if (passwords > BULK_MAX_PASSWORDS) {
    throw new ApiError(UserErrors.BULK_TOO_LARGE, {
      detail: `At most ${BULK_MAX_PASSWORDS} operations with a password per request (hashing is slow on purpose); got ${passwords}.`,
    });
  }
  const ids = parsed.flatMap((p) => (p.success && p.data.id ? [p.data.id] : []));
  const creates = parsed.map((p) =>
    p.success && p.data.op === "create" ? CreateUserSchema.safeParse(p.data.data) : null,
  );
  // The emails and usernames this request may claim: those of the creates, and those an update sets (a merge
  // patch replaces these top-level members as given), so that a taken one fails its own item, even in an
  // atomic bulk, instead of the whole batch on a unique index.
  const updates = parsed.flatMap((p) => (p.success && p.data.op === "update" && p.data.data ? [p.data.data] : []));
  const emails = [
    ...creates.flatMap((c) => (c?.success ? [normalizeEmail(c.data.email)] : [])),
    ...updates.flatMap((d) => (typeof d.email === "string" ? [normalizeEmail(d.email)] : [])),
  ];
  const usernames = [
    ...creates.flatMap((c) => (c?.success && c.data.username ? [normalizeUsername(c.data.username) as string] : [])),
    ...updates.flatMap((d) => (typeof d.username === "string" ? [normalizeUsername(d.username) as string] : [])),
  ];
  const [state, takenEmails, takenUsernames] = await Promise.all([
    findUsers(ctx.db, ids),
    findTaken(ctx.db, "emailNormalized", emails),
    findTaken(ctx.db, "usernameNormalized", usernames),
  ]);

  const outcomes: Outcome[] = [];
  for (const [index, result] of parsed.entries()) {
    try {
      if (!result.success) throw validationError(fieldErrors(result.error.issues), "operation");
      const op = result.data;
      let plan: Plan | null;
      if (op.op === "create") {
        const input = creates[index];
        if (!input?.success) throw validationError(fieldErrors(input?.error.issues ?? [], ["data"]), "operation");
        const email = normalizeEmail(input.data.email);
        const username = normalizeUsername(input.data.username);
        if (takenEmails.has(email)) throw conflictFor("users.email_normalized");
        if (username && takenUsernames.has(username)) throw conflictFor("users.username_normalized");
        plan = await planCreate(ctx, input.data, at, { skipOnConflict: !atomic });
        takenEmails.set(email, plan.after?.id as string);
        if (username) takenUsernames.set(username, plan.after?.id as string);
      } else {
        const current = state.get(op.id as string);
        if (!current) throw notFound(op.id as string);
        if (op.op === "update") {
          if (current.status === "deleted") throw notFound(current.id);
          plan = await planUpdate(ctx, current, op.data as Json, at, ["data"]);
          if (plan?.after) claimIdentifiers(plan.after, current, takenEmails, takenUsernames);
        } else {
          plan = op.op === "delete" ? await planSoftDelete(ctx, current, at) : await planRestore(ctx, current, at);
        }
      }
      if (plan?.after) state.set(plan.after.id, plan.after);
      outcomes.push(plan ? { index, plan } : { index, plan: noChange(state.get(result.data.id as string) as UserRow) });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      outcomes.push({ index, error });
    }
  }

  const planned = outcomes.filter((o): o is Planned => "plan" in o && o.plan.statements.length > 0);
  const failed = outcomes.filter((o): o is { index: number; error: ApiError } => "error" in o);
  if (atomic) {
    if (failed.length > 0) {
      throw new ApiError(UserErrors.BULK_ATOMIC_FAILED, {
        detail: `${failed.length} of ${operations.length} operations are not valid; nothing was committed.`,
        errors: failed.map(({ index, error }) => ({
          index,
          code: error.code,
          detail: error.detail ?? error.title,
          ...(error.errors ? { errors: error.errors } : {}),
        })),
      });
    }
    await commitAtomic(ctx, planned);
    return { results: outcomes.map((o) => resultOf(ctx, o)), committed: true };
  }
  const retried = await commitEach(ctx, planned);
  return {
    results: outcomes.map((o) => resultOf(ctx, retried.get(o.index) ?? o)),
    committed: planned.length > 0,
  };
}

/**
 * Checks that an update does not take another user's email or username, and records what the user now owns
 * and what it gave up: the batch runs in request order, so a later item may take an identifier an earlier
 * one freed.
 */
function claimIdentifiers(
  after: UserRow,
  before: UserRow,
  emails: Map<string, string>,
  usernames: Map<string, string>,
) {
  claim(emails, before.emailNormalized, after.emailNormalized, after.id, "users.email_normalized");
  claim(usernames, before.usernameNormalized, after.usernameNormalized, after.id, "users.username_normalized");
}

function claim(owners: Map<string, string>, from: string | null, to: string | null, id: string, column: string) {
  if (from === to) return;
  if (to !== null) {
    const owner = owners.get(to);
    if (owner && owner !== id) throw conflictFor(column);
  }
  if (from !== null && owners.get(from) === id) owners.delete(from);
  if (to !== null) owners.set(to, id);
}

function noChange(row: UserRow): Plan {
  return { action: "user.updated", before: row, after: row, statements: [] };
}

async function commitAtomic(ctx: ServiceContext, planned: Planned[]): Promise<void> {
  if (planned.length === 0) return;
  const statements = planned.flatMap(({ plan }) => {
    const [change, ...rest] = plan.statements as [D1PreparedStatement, ...D1PreparedStatement[]];
    return plan.action === "user.created" ? plan.statements : [change, assertPreviousChanged(ctx.db), ...rest];
  });
  try {
    await ctx.db.batch([...statements, clearAssertions(ctx.db)]);
  } catch (error) {
    const conflict = conflictFor(uniqueViolation(error));
    if (conflict || isAssertionFailure(error)) {
      throw new ApiError(UserErrors.BULK_ATOMIC_FAILED, {
        detail: "Another request changed these users while the bulk request ran; nothing was committed. Retry it.",
        errors: [
          {
            code: conflict?.code ?? UserErrors.USER_WRITE_CONFLICT,
            detail: conflict?.detail ?? "A user changed meanwhile.",
          },
        ],
      });
    }
    throw error;
  }
}

/**
 * Non-atomic: one batch where creates skip on conflict and updates are version-guarded, each audit row
 * written only if its change was. Items whose change did not happen are reported as conflicts.
 */
async function commitEach(ctx: ServiceContext, planned: Planned[]): Promise<Map<number, Outcome>> {
  const changed = new Map<number, Outcome>();
  if (planned.length === 0) return changed;
  let results: D1Result[];
  try {
    results = await ctx.db.batch(planned.flatMap(({ plan }) => plan.statements));
  } catch (error) {
    if (!uniqueViolation(error)) throw error;
    results = await commitOneByOne(ctx, planned, changed);
  }
  let offset = 0;
  for (const item of planned) {
    const changes = results[offset]?.meta.changes ?? 0;
    offset += item.plan.statements.length;
    if (changes === 0) {
      const error =
        item.plan.action === "user.created"
          ? new ApiError(UserErrors.EMAIL_TAKEN, { detail: "Another request took this email or username meanwhile." })
          : new ApiError(UserErrors.USER_WRITE_CONFLICT, {
              detail: "The user changed meanwhile; retry this operation.",
            });
      changed.set(item.index, { index: item.index, error });
    }
  }
  return changed;
}

/** The slow path, when a concurrent write made the shared batch fail on a unique index. */
async function commitOneByOne(ctx: ServiceContext, planned: Planned[], failed: Map<number, Outcome>) {
  const results: D1Result[] = [];
  for (const item of planned) {
    try {
      results.push(...(await ctx.db.batch(item.plan.statements)));
    } catch (error) {
      const conflict = conflictFor(uniqueViolation(error));
      if (!conflict) throw error;
      failed.set(item.index, { index: item.index, error: conflict });
      results.push(...item.plan.statements.map(() => ({ meta: { changes: 1 } }) as D1Result));
    }
  }
  return results;
}

function resultOf(ctx: ServiceContext, outcome: Outcome): BulkItemResult {
  if ("error" in outcome) {
    return {
      index: outcome.index,
      status: outcome.error.status,
      error: problemBody(outcome.error, ctx.request.requestId) as BulkItemResult["error"],
    };
  }
  const row = outcome.plan.after ?? outcome.plan.before;
  return {
    index: outcome.index,
    status: STATUS[outcome.plan.action],
    ...(row ? { id: row.id } : {}),
    ...(outcome.plan.after ? { data: toUser(outcome.plan.after) } : {}),
  };
}
