import type { ServiceContext } from "../../core/context";
import { ApiError, CoreErrors } from "../../core/errors";
import { eventStatement } from "../../core/events/outbox";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import * as users from "../users/users.service";
import { configuredChannels } from "./channels.service";

/**
 * One message to every active user an audience names (docs/notifications.md, "Broadcasts"): a users filter, which may
 * name a segment (`segment eq "dormant"`). Each recipient gets a `user.re_engagement` event of its own, sent like any
 * other event (templates, opt-outs, retries, the log); the broadcast itself is one audit row.
 */

export const BROADCAST_EVENTS = ["user.re_engagement"] as const;
export type BroadcastEvent = (typeof BROADCAST_EVENTS)[number];

/** At most this many recipients per broadcast: a larger audience is refused (narrow it, or send it in parts). */
export const MAX_RECIPIENTS = 5_000;
const PAGE = 1_000;

export interface Broadcast {
  event: BroadcastEvent;
  filter: string;
  dryRun?: boolean | undefined;
}

/** The active users the filter names, read as the caller may read them (a field it may not read is refused). */
async function audienceOf(ctx: ServiceContext, filter: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await users.listUsers(ctx, {
      filter: `status eq "active" and (${filter})`,
      limit: PAGE,
      includeDeleted: false,
      ...(cursor ? { cursor } : {}),
    });
    ids.push(...page.data.map((user) => user.id));
    if (ids.length > MAX_RECIPIENTS) {
      throw new ApiError(CoreErrors.VALIDATION_FAILED, {
        detail: `The audience has more than ${MAX_RECIPIENTS} users; narrow the filter or send it in parts.`,
        errors: [{ field: "filter", code: "audience_too_large", detail: `More than ${MAX_RECIPIENTS} users match.` }],
      });
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

export async function broadcast(ctx: ServiceContext, input: Broadcast) {
  const recipients = await audienceOf(ctx, input.filter);
  const broadcastId = newId("bcs");
  const result = { broadcastId, event: input.event, recipients: recipients.length, dryRun: input.dryRun === true };
  if (input.dryRun) return result;
  if ((await configuredChannels(ctx.db)).channels.size === 0) {
    throw new ApiError(CoreErrors.CONFLICT, {
      detail: "No notification channel is set up (PUT /v1/notification-channels): nothing would be sent.",
    });
  }
  const at = new Date().toISOString();
  const statements: D1PreparedStatement[] = [
    await auditStatement(
      ctx,
      {
        action: "notification.broadcast",
        resource: { type: "broadcast", id: broadcastId },
        changes: { event: { from: null, to: input.event }, recipients: { from: null, to: recipients.length } },
      },
      { at },
    ),
  ];
  for (const userId of recipients) {
    statements.push(
      await eventStatement(ctx, { type: input.event, subjectId: userId, data: { userId, broadcastId } }, at),
    );
  }
  // one batch: the broadcast is recorded with all its events or not at all (the write middleware sends them on)
  await ctx.db.batch(statements);
  return result;
}
