import { defineErrors } from "../../core/errors";

export const NotificationErrors = defineErrors({
  TEMPLATE_NOT_FOUND: { status: 404, title: "Notification template not found" },
  TEMPLATE_EXISTS: { status: 409, title: "A template for this event, channel and locale exists" },
  DEFAULT_TEMPLATE: { status: 409, title: "Default templates are read-only" },
  NOTIFICATION_NOT_FOUND: { status: 404, title: "Notification not found" },
  INVALID_UNSUBSCRIBE_TOKEN: { status: 400, title: "The unsubscribe link is not valid" },
  OUTBOUND_URL_REFUSED: { status: 400, title: "The URL may not be called from the service" },
});
