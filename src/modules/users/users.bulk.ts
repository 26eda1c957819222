import { z } from "@hono/zod-openapi";
import type { ServiceContext } from "../../core/context";
import { assertPreviousChanged, clearAssertions, isAssertionFailure, uniqueViolation } from "../../core/db/statements";
import type { UserRow } from "../../core/db/tenant-schema";
import { ApiError, problemBody } from "../../core/errors";
import { JsonValueSchema } from "../../core/http/json-value";
import type { Json } from "../../core/http/merge-patch";
import type { ProblemSchema } from "../../core/http/problem-schema";
import { fieldErrors, validationError } from "../../core/http/validation";
import type { HookOperation, NewUserInput } from "../../core/plugins/define";
import { type BeforeRunner, prepareBeforeHooks, runAfterHooks } from "../../core/plugins/hooks";
import { insertAuditMany } from "../audit/audit.repo";
import { auditKeyOf } from "../audit/audit.service";
import { userQuota, userQuotaError } from "../plans/plans.quotas";
import { uniqueFieldConflict, uniqueFieldsTaken } from "../schema/fields.indexes";
import { SchemaErrors } from "../schema/schema.errors";
import { schemaChanged, schemaGuard } from "../schema/schema.service";
import { forgetCachedUsers } from "./users.cache";
import { UserErrors } from "./users.errors";
import { normalizeEmail, normalizeUsername } from "./users.mapping";
import {
  buildCreate,
  conflictFor,
  EMAIL_UNIQUE,
  type NewUser,
  notFound,
  type Plan,
  planRestore,
  planSoftDelete,
  planUpdate,
  USERNAME_UNIQUE,
} from "./users.plans";
import { insertUsersMany, type Prefetched, prefetch } from "./users.repo";
import { type CreateUserInput, CreateUserSchema } from "./users.schema";
import { endSessionsIfRightsChanged } from "./users.sessions";

export const BULK_MAX_OPERATIONS = 1000;
/** Password hashing is deliberately slow (scrypt); more than this many in one request would blow the CPU budget. */
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
  error?: z.infer<typeof ProblemSchema>;
}

/** A planned update, delete or restore (no statements when it changes nothing). */
type Change = { index: number; plan: Plan };
type Create = { index: number; created: NewUser };
type Failure = { index: number; error: ApiError };
type Outcome = Change | Create | Failure;

const nothingKnown = async (): Promise<Prefetched> => ({ users: new Map(), emails: new Map(), usernames: new Map() });

const STATUS: Record<Plan["action"], number> = {
  "user.created": 201,
  "user.updated": 200,
  "user.deleted": 200,
  "user.restored": 200,
  "user.purged": 204,
};

/**
 * Plans every operation in request order against an in-memory view of the users it touches (so operations on
 * one user see each other, and an email freed by one item may be taken by a later one), after one round trip
 * that prefetches the users named by id and which emails and usernames are taken. Then one D1 batch commits
 * everything: the updates, deletes and restores as version-guarded statements in order, then all creates and
 * their audit events set-based (json_each), which is what makes 1000 creates cheap.
 * Atomic: an assertion after every guarded change and plain inserts, so any concurrent interference aborts
 * the whole batch. Non-atomic: creates skip on conflict and audit only what was written; an item whose write
 * did not happen is reported as a conflict.
 */
export async function bulk(
  ctx: ServiceContext,
  operations: readonly unknown[],
  atomic: boolean,
): Promise<{ results: BulkItemResult[] }> {
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
  // patch replaces these top-level members as given), so that a taken one fails its own item.
  const updates = parsed.flatMap((p) => (p.success && p.data.op === "update" && p.data.data ? [p.data.data] : []));
  const emails = [
    ...creates.flatMap((c) => (c?.success ? [normalizeEmail(c.data.email)] : [])),
    ...updates.flatMap((d) => (typeof d.email === "string" ? [normalizeEmail(d.email)] : [])),
  ];
  const usernames = [
    ...creates.flatMap((c) => (c?.success && c.data.username ? [normalizeUsername(c.data.username) as string] : [])),
    ...updates.flatMap((d) => (typeof d.username === "string" ? [normalizeUsername(d.username) as string] : [])),
  ];
  // Creates alone need nothing read first: the unique indexes refuse a taken email or username at commit, and
  // only then is it looked up which (the common path saves a round trip).
  const createOnly = ids.length === 0 && updates.length === 0;
  // the plan's maxUsers: one count for the whole request (none on an unlimited plan, or without creates)
  const [known, key, quota] = await Promise.all([
    createOnly ? nothingKnown() : prefetch(ctx, ids, emails, usernames),
    auditKeyOf(ctx),
    creates.some((c) => c?.success) ? userQuota(ctx) : null,
  ]);
  const { users: state, emails: takenEmails, usernames: takenUsernames } = known;
  let admitted = 0;
  const hooks = hookLoader(ctx);

  const outcomes: Outcome[] = [];
  for (const [index, result] of parsed.entries()) {
    try {
      if (!result.success) throw validationError(fieldErrors(result.error.issues), "operation");
      const op = result.data;
      if (op.op === "create") {
        const input = creates[index];
        if (!input?.success) throw validationError(fieldErrors(input?.error.issues ?? [], ["data"]), "operation");
        const { password, ...visible } = input.data;
        const hooked = await (await hooks("user.create"))({ user: visible as NewUserInput });
        const data = { ...(hooked.input.user as CreateUserInput), ...(password === undefined ? {} : { password }) };
        const email = normalizeEmail(data.email);
        const username = normalizeUsername(data.username);
        if (takenEmails.has(email)) throw conflictFor(EMAIL_UNIQUE);
        if (username && takenUsernames.has(username)) throw conflictFor(USERNAME_UNIQUE);
        const overQuota = userQuotaError(quota, admitted);
        if (overQuota) throw overQuota;
        const created = await buildCreate(ctx, key, data, at, ["data"]);
        admitted++;
        takenEmails.set(email, created.row.id);
        if (username) takenUsernames.set(username, created.row.id);
        outcomes.push({ index, created });
        continue;
      }
      const current = state.get(op.id as string);
      if (!current) throw notFound(op.id as string);
      let plan: Plan | null;
      if (op.op === "update") {
        if (current.status === "deleted") throw notFound(current.id);
        const patch = op.data as Record<string, Json>;
        const hooked = await (await hooks("user.update"))({ userId: current.id, patch });
        plan = await planUpdate(ctx, current, hooked.input.patch, at, ["data"]);
        if (plan?.after) claimIdentifiers(plan.after, current, takenEmails, takenUsernames);
      } else {
        if (op.op === "delete") await (await hooks("user.delete"))({ userId: current.id, permanent: false });
        plan = op.op === "delete" ? await planSoftDelete(ctx, current, at) : await planRestore(ctx, current, at);
      }
      if (plan?.after) state.set(plan.after.id, plan.after);
      outcomes.push({
        index,
        plan: plan ?? { action: "user.updated", before: current, after: current, statements: [] },
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      outcomes.push({ index, error });
    }
  }

  const changes = outcomes.filter((o): o is Change => "plan" in o && o.plan.statements.length > 0);
  const created = outcomes.filter((o): o is Create => "created" in o);
  if (atomic) {
    const failed = outcomes.filter((o): o is Failure => "error" in o);
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
    await commitAtomic(ctx, changes, created);
    await settleChanges(ctx, changes);
    ctx.waitUntil(afterHooks(ctx, changes, created));
    return { results: outcomes.map((o) => resultOf(ctx, o)) };
  }
  const lost = await commitEach(ctx, changes, created);
  await settleChanges(
    ctx,
    changes.filter((c) => !lost.has(c.index)),
  );
  ctx.waitUntil(
    afterHooks(
      ctx,
      changes.filter((c) => !lost.has(c.index)),
      created.filter((c) => !lost.has(c.index)),
    ),
  );
  return { results: outcomes.map((o) => resultOf(ctx, lost.get(o.index) ?? o)) };
}

/** Each operation's before-hooks, loaded once for the whole request (docs/plugins.md: bulk items are hooked). */
function hookLoader(ctx: ServiceContext) {
  const loaded = new Map<HookOperation, Promise<BeforeRunner<HookOperation>>>();
  return <O extends HookOperation>(operation: O): Promise<BeforeRunner<O>> => {
    let runner = loaded.get(operation);
    if (!runner) {
      runner = prepareBeforeHooks(ctx, operation) as unknown as Promise<BeforeRunner<HookOperation>>;
      loaded.set(operation, runner);
    }
    return runner as unknown as Promise<BeforeRunner<O>>;
  };
}

/** The after-hooks of what the request committed (restores are not a hooked operation). */
async function afterHooks(ctx: ServiceContext, changes: Change[], created: Create[]): Promise<void> {
  const ids = (action: Plan["action"]) =>
    changes.flatMap(({ plan }) => (plan.action === action && plan.after ? [{ userId: plan.after.id }] : []));
  await runAfterHooks(
    ctx,
    "user.create",
    created.map((c) => ({ userId: c.created.row.id })),
  );
  await runAfterHooks(ctx, "user.update", ids("user.updated"));
  await runAfterHooks(
    ctx,
    "user.delete",
    ids("user.deleted").map((input) => ({ ...input, permanent: false })),
  );
}

/** Users a committed bulk request disabled, deleted or re-roled keep none of their tokens (users.sessions.ts). */
/** After the committed changes: their cached profiles go, and sessions end where rights changed. */
async function settleChanges(ctx: ServiceContext, changes: Change[]): Promise<void> {
  await forgetCachedUsers(
    ctx,
    changes.flatMap(({ plan }) => (plan.before ? [plan.before.id] : [])),
  );
  await Promise.all(changes.map(({ plan }) => endSessionsIfRightsChanged(ctx, plan.before, plan.after)));
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
  claim(emails, before.emailNormalized, after.emailNormalized, after.id, EMAIL_UNIQUE);
  claim(usernames, before.usernameNormalized, after.usernameNormalized, after.id, USERNAME_UNIQUE);
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

/** Creates go after the other changes: an update may free an email a create then takes (in request order). */
async function createStatements(ctx: ServiceContext, created: Create[], skipOnConflict: boolean) {
  if (created.length === 0) return [];
  return [
    ...(await insertUsersMany(
      ctx,
      created.map((c) => c.created.row),
      { skipOnConflict },
    )),
    ...insertAuditMany(
      ctx.db,
      created.map((c) => c.created.audit),
      skipOnConflict,
    ),
  ];
}

async function commitAtomic(ctx: ServiceContext, changes: Change[], created: Create[]): Promise<void> {
  const statements = [
    ...changes.flatMap(({ plan }) => {
      const [change, ...rest] = plan.statements as [D1PreparedStatement, ...D1PreparedStatement[]];
      return [change, assertPreviousChanged(ctx.db), ...rest];
    }),
    ...(await createStatements(ctx, created, false)),
  ];
  if (statements.length === 0) return;
  try {
    await ctx.db.batch([...statements, ...(await schemaGuard(ctx)), clearAssertions(ctx.db)]);
  } catch (error) {
    const refused = (await uniqueFieldConflict(ctx, error)) ?? schemaChanged(error);
    if (refused) {
      if (refused.code === SchemaErrors.SCHEMA_CHANGED) throw refused;
      throw new ApiError(UserErrors.BULK_ATOMIC_FAILED, {
        detail: `${refused.detail} Nothing was committed.`,
        errors: [{ code: refused.code, detail: refused.detail ?? refused.message }],
      });
    }
    const conflict = conflictFor(uniqueViolation(error));
    const taken = conflict ? await takenBy(ctx, created) : [];
    if (taken.length > 0) {
      throw new ApiError(UserErrors.BULK_ATOMIC_FAILED, {
        detail: `${taken.length} of the creates take an email or username that is taken; nothing was committed.`,
        errors: taken.map(({ index, error }) => ({ index, code: error.code, detail: error.detail ?? error.title })),
      });
    }
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
 * Non-atomic: one batch; returns the items whose write did not happen (a concurrent request got there
 * first), as conflicts. Should an update's new email collide with a concurrent write, the shared batch fails
 * on the unique index, and the items are then committed one by one to tell exactly which.
 */
async function commitEach(ctx: ServiceContext, changes: Change[], created: Create[]): Promise<Map<number, Failure>> {
  const lost = new Map<number, Failure>();
  const creates = await createStatements(ctx, created, true);
  const statements = [...changes.flatMap(({ plan }) => plan.statements), ...creates];
  if (statements.length === 0) return lost;
  let results: D1Result[];
  try {
    results = (await ctx.db.batch([...statements, ...(await schemaGuard(ctx))])).slice(0, statements.length);
  } catch (error) {
    const refused = (await uniqueFieldConflict(ctx, error)) ?? schemaChanged(error);
    if (refused) throw refused;
    if (!uniqueViolation(error)) throw error;
    results = [];
    for (const change of changes) {
      try {
        results.push(...(await ctx.db.batch(change.plan.statements)));
      } catch (one) {
        const conflict = conflictFor(uniqueViolation(one));
        if (!conflict) throw one;
        lost.set(change.index, { index: change.index, error: conflict });
        results.push(...change.plan.statements.map(() => ({ meta: { changes: 1 } }) as D1Result));
      }
    }
    if (creates.length > 0) results.push(...(await ctx.db.batch(creates)));
  }
  let offset = 0;
  for (const change of changes) {
    if ((results[offset]?.meta.changes ?? 0) === 0 && !lost.has(change.index)) {
      const error = new ApiError(UserErrors.USER_WRITE_CONFLICT, {
        detail: "The user changed meanwhile; retry this operation.",
      });
      lost.set(change.index, { index: change.index, error });
    }
    offset += change.plan.statements.length;
  }
  const inserted = new Set(
    results
      .slice(offset)
      .flatMap((result) => (result.results as { id?: string }[]).flatMap((row) => (row.id ? [row.id] : []))),
  );
  const skipped = created.filter(({ created: user }) => !inserted.has(user.row.id));
  for (const { index } of skipped) {
    // unless the lookups below say on what, a skipped create lost a race that has since undone itself
    const error = new ApiError(UserErrors.EMAIL_TAKEN, {
      detail: "Another request took this email, username or unique field value meanwhile.",
    });
    lost.set(index, { index, error });
  }
  const unique = await uniqueFieldsTaken(
    ctx,
    skipped.map(({ index, created }) => ({ index, attributes: created.row.attributes })),
  );
  for (const failure of unique) lost.set(failure.index, failure);
  for (const failure of await takenBy(ctx, skipped)) lost.set(failure.index, failure);
  return lost;
}

/**
 * Which of these creates conflict with a stored user, and on what: one lookup, made only once a unique index
 * has refused something.
 */
async function takenBy(ctx: ServiceContext, creates: Create[]): Promise<Failure[]> {
  if (creates.length === 0) return [];
  const rows = creates.map(({ created }) => created.row);
  const taken = await prefetch(
    ctx,
    [],
    rows.map((row) => row.emailNormalized),
    rows.flatMap((row) => (row.usernameNormalized ? [row.usernameNormalized] : [])),
  );
  return creates.flatMap(({ index, created: { row } }) => {
    const column = taken.emails.has(row.emailNormalized)
      ? EMAIL_UNIQUE
      : row.usernameNormalized && taken.usernames.has(row.usernameNormalized)
        ? USERNAME_UNIQUE
        : undefined;
    const error = conflictFor(column);
    return error ? [{ index, error }] : [];
  });
}

function resultOf(ctx: ServiceContext, outcome: Outcome): BulkItemResult {
  if ("error" in outcome) {
    return {
      index: outcome.index,
      status: outcome.error.status,
      error: problemBody(outcome.error, ctx.request.requestId) as BulkItemResult["error"],
    };
  }
  if ("created" in outcome) return { index: outcome.index, status: 201, id: outcome.created.row.id };
  const row = outcome.plan.after ?? outcome.plan.before;
  return { index: outcome.index, status: STATUS[outcome.plan.action], ...(row ? { id: row.id } : {}) };
}
