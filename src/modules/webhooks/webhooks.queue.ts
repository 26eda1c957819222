import type { DueAttempt } from "./webhooks.deliveries.repo";

/** A `uom-webhooks` message: attempt `attempt` of one delivery. */
export interface DeliveryMessage {
  tenantId: string;
  deliveryId: string;
  attempt: number;
}

/** What `uom-webhooks-dlq` carries: the same, and why (absent: the queue's own retries ran out). */
export interface DeadDelivery extends DeliveryMessage {
  reason?: string;
}

export function isDeliveryMessage(body: unknown): body is DeliveryMessage {
  const b = body as Partial<DeliveryMessage> | null;
  return (
    typeof b === "object" &&
    b !== null &&
    typeof b.tenantId === "string" &&
    typeof b.deliveryId === "string" &&
    typeof b.attempt === "number"
  );
}

/** Queue messages for these attempts, each due now (sendBatch takes at most 100). */
export async function enqueueAttempts(env: Env, tenantId: string, due: readonly DueAttempt[]): Promise<void> {
  for (let i = 0; i < due.length; i += 100) {
    await env.WEBHOOKS.sendBatch(
      due.slice(i, i + 100).map(({ id, attempt }) => ({
        body: { tenantId, deliveryId: id, attempt } satisfies DeliveryMessage,
        contentType: "json" as const,
      })),
    );
  }
}
