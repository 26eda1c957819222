/** What the NOTIFICATIONS queue carries: the row to send (everything else is read at send time). */
export interface NotificationMessage {
  tenantId: string;
  notificationId: string;
}

/** One message per notification row, in batches of 100 (a queue's sendBatch limit). */
export async function enqueueNotifications(env: Env, tenantId: string, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 100) {
    await env.NOTIFICATIONS.sendBatch(
      ids.slice(i, i + 100).map((notificationId) => ({
        body: { tenantId, notificationId } satisfies NotificationMessage,
        contentType: "json",
      })),
    );
  }
}
