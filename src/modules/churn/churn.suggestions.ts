import type { Behaviour } from "../activity/behaviour";
import type { Band } from "./churn.model";

/** The notification event whose template speaks to users who never signed in (docs/notifications.md). */
const ACTIVATION_REMINDER = "user.activation_reminder";
/** Sent to an audience by POST /v1/notifications/broadcasts (a shipped template, or the tenant's own). */
const RE_ENGAGEMENT = "user.re_engagement";
const NEW_USER_DAYS = 30;
const FAILED_LOGINS = 3;

/**
 * What to do about a user at risk, from their behaviour: checked in this order, since a user who cannot sign in
 * needs help with that before any message, and a new user needs onboarding more than a reminder.
 */
export function suggestionFor(b: Behaviour, band: Band, templates: ReadonlySet<string>): string {
  if (band === "low") return "none";
  if (b.failedLogins30 >= FAILED_LOGINS) return "check sign-in problems";
  const neverActive = b.recencyDays >= b.tenureDays && b.activeDays30 === 0;
  if (neverActive && templates.has(ACTIVATION_REMINDER)) return `send the ${ACTIVATION_REMINDER} template`;
  if (b.tenureDays < NEW_USER_DAYS && b.activeDays30 <= 4) return "offer onboarding help";
  return `send the ${RE_ENGAGEMENT} template`;
}
