import { defineErrors } from "../../core/errors";

export const WebhookErrors = defineErrors({
  WEBHOOK_NOT_FOUND: { status: 404, title: "Webhook endpoint not found" },
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, title: "Webhook delivery not found" },
  WEBHOOK_URL_NOT_ALLOWED: { status: 400, title: "The webhook URL is not allowed" },
  WEBHOOK_ENDPOINT_DISABLED: { status: 409, title: "The webhook endpoint is disabled" },
  WEBHOOK_REPLAY_TOO_OLD: { status: 400, title: "The replay starts before the event retention" },
});
