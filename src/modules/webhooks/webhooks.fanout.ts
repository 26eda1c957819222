import type { EventConsumer } from "../../core/events/consumers";
import { newId } from "../../core/ids";
import { insertDeliveries, type NewDelivery } from "./webhooks.deliveries.repo";
import { matchesAny, TEST_EVENT_TYPE } from "./webhooks.filters";
import { enqueueAttempts } from "./webhooks.queue";
import { enabledEndpoints } from "./webhooks.repo";

/** Deliveries inserted per statement (one JSON parameter; D1 caps a statement's size, not its rows). */
const INSERT_PAGE = 500;

/**
 * The webhooks' EVENTS consumer: for each event, a delivery for every enabled endpoint of the tenant whose filters
 * match it, and one `uom-webhooks` message per new delivery. Quick local work only (one read, one insert, one send):
 * the requests themselves are made by the `uom-webhooks` consumer. Idempotent by event id: a redelivered event finds
 * its deliveries made (UNIQUE (endpoint_id, event_id)) and sends nothing; if the send failed, the per-minute sweeper
 * enqueues the deliveries left due.
 */
export const webhookFanOut: EventConsumer = {
  name: "webhooks",
  async consume({ env, tenantId, db }, events) {
    // a test event is addressed to one endpoint (POST /v1/webhooks/{id}/test), which already has its delivery
    const candidates = events.filter((event) => event.type !== TEST_EVENT_TYPE);
    if (candidates.length === 0) return;
    const endpoints = await enabledEndpoints(db);
    if (endpoints.length === 0) return;
    const rows: NewDelivery[] = [];
    for (const event of candidates) {
      for (const endpoint of endpoints) {
        // an endpoint hears what happens from its creation on (an older event re-sent late is not for it)
        if (event.occurredAt < endpoint.createdAt || !matchesAny(endpoint.events, event.type)) continue;
        rows.push({ id: newId("dlv"), endpointId: endpoint.id, eventId: event.id, eventType: event.type });
      }
    }
    const at = new Date().toISOString();
    for (let i = 0; i < rows.length; i += INSERT_PAGE) {
      const inserted = await insertDeliveries(db, rows.slice(i, i + INSERT_PAGE), at);
      await enqueueAttempts(env, tenantId, inserted);
    }
  },
};
