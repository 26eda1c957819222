import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { loggableError } from "../../core/http/error-handler";
import type { Json } from "../../core/http/merge-patch";
import { guardedFetch, OutboundRefused } from "../../core/http/outbound";
import { signedHeaders } from "../../core/http/standard-webhooks";
import { newId } from "../../core/ids";
import { planIncludes } from "../../core/plans";
import type { BeforeInputs, BeforeResults, HookOperation } from "../../core/plugins/define";
import type { BeforeStep, RuntimeHookSource } from "../../core/plugins/hooks";
import type { TenantRef } from "../../env";
import { ActionErrors } from "./actions.errors";
import { type ActionRow, actionsOf, recordExecution } from "./actions.repo";
import { ActionAnswerSchema, type ActionTrigger, type Execution } from "./actions.schema";
import { openActionSecret } from "./actions.service";

/**
 * HTTP actions as before-hooks registered at run time (docs/actions.md): the core's own use of the hook runner.
 * Each enabled action of the trigger is called in turn with a signed POST; its answer allows (maybe with attributes
 * to merge), or denies with a message (403 ACTION_DENIED). A call that fails (timeout, network, non-2xx, unreadable
 * answer, refused URL) proceeds when the action fails open and refuses with 503 ACTION_UNAVAILABLE when it fails
 * closed. Each call is logged in `action_executions` once the request is answered.
 */

const TRIGGERS: Partial<Record<HookOperation, ActionTrigger>> = {
  "user.create": "user.create.before",
  "user.login": "user.login.before",
};

type Scoped = ServiceContext & { tenant: TenantRef };

interface Outcome {
  answer: { action: "allow"; attributes?: Record<string, unknown> } | { action: "deny"; message?: string } | null;
  httpStatus: number | null;
  error: string | null;
}

/** What the action sees of the user: the input without its password (it never reaches a hook). */
function userOf(operation: HookOperation, input: BeforeInputs[HookOperation]): unknown {
  return operation === "user.create"
    ? (input as BeforeInputs["user.create"]).user
    : (input as BeforeInputs["user.login"]).user;
}

async function call(ctx: Scoped, action: ActionRow, messageId: string, body: string): Promise<Outcome> {
  try {
    const secret = await openActionSecret(ctx.env, ctx.tenant.id, action);
    const headers = { "content-type": "application/json", ...(await signedHeaders(secret, messageId, body)) };
    const response = await guardedFetch(ctx.env.ENVIRONMENT, action.url, {
      method: "POST",
      headers,
      body,
      timeoutMs: action.timeout_ms,
    });
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel();
      return { answer: null, httpStatus: response.status, error: `HTTP ${response.status}` };
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      return { answer: null, httpStatus: response.status, error: "the answer is not JSON" };
    }
    const answer = ActionAnswerSchema.safeParse(parsed);
    if (!answer.success)
      return { answer: null, httpStatus: response.status, error: "the answer is not an action answer" };
    return { answer: answer.data, httpStatus: response.status, error: null };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const reason =
      error instanceof OutboundRefused
        ? error.message
        : name === "TimeoutError" || name === "AbortError"
          ? `timeout after ${action.timeout_ms} ms`
          : "network error";
    if (ctx.env.LOG_LEVEL !== "silent" && !(error instanceof OutboundRefused) && reason === "network error") {
      console.log(
        JSON.stringify({
          level: "warn",
          msg: "HTTP action unreachable",
          action: action.id,
          error: loggableError(error),
        }),
      );
    }
    return { answer: null, httpStatus: null, error: reason };
  }
}

function step<O extends HookOperation>(ctx: Scoped, operation: O, action: ActionRow): BeforeStep<O> {
  return {
    name: `HTTP action ${action.id}`,
    async run(input) {
      const body = JSON.stringify({
        trigger: action.trigger,
        tenantId: ctx.tenant.id,
        user: userOf(operation, input),
        context: { ip: ctx.request.ip, userAgent: ctx.request.userAgent },
      });
      const started = Date.now();
      // the execution's id is the request's webhook-id, so a receiver's log and the execution log line up
      const executionId = newId("axe");
      const outcome = await call(ctx, action, executionId, body);
      const durationMs = Date.now() - started;
      const { answer } = outcome;
      const attributes =
        answer?.action === "allow" ? (answer.attributes as Record<string, Json> | undefined) : undefined;
      const result: Execution["outcome"] =
        answer === null
          ? action.failure_policy === "open"
            ? "failed_open"
            : "failed_closed"
          : answer.action === "deny"
            ? "denied"
            : attributes && Object.keys(attributes).length > 0
              ? "modified"
              : "allowed";
      const execution: Execution = {
        id: executionId,
        trigger: action.trigger,
        outcome: result,
        httpStatus: outcome.httpStatus,
        durationMs,
        error: outcome.error,
        createdAt: new Date(started).toISOString(),
      };
      // logged whether the operation then commits or not: the call happened
      ctx.waitUntil(ctx.db.batch(recordExecution(ctx.db, action.id, execution)).catch(() => undefined));
      if (result === "failed_closed") {
        throw new ApiError(ActionErrors.ACTION_UNAVAILABLE, {
          detail: `The HTTP action ${action.id} could not be reached (${outcome.error}); nothing was changed.`,
          extensions: { action: action.id },
        });
      }
      if (answer?.action === "deny") {
        throw new ApiError(ActionErrors.ACTION_DENIED, {
          detail: answer.message?.trim() || "Denied by an HTTP action.",
          extensions: { action: action.id },
        });
      }
      if (!attributes) return undefined;
      return (
        operation === "user.create"
          ? {
              user: {
                ...(input as BeforeInputs["user.create"]).user,
                attributes: { ...(input as BeforeInputs["user.create"]).user.attributes, ...attributes },
              },
            }
          : { attributes }
      ) as BeforeResults[O];
    },
  };
}

export const httpActionHooks: RuntimeHookSource = {
  async before(ctx, operation) {
    const trigger = TRIGGERS[operation];
    if (!trigger || !planIncludes(ctx.tenant.plan, "plugins")) return [];
    return (await actionsOf(ctx.db, trigger)).map((action) => step(ctx, operation, action));
  },
};
