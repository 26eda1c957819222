/**
 * The events a notification can be about, who it goes to, whether a user may opt out of it (its category) and
 * the sample data a preview renders with. Essential messages (security) ignore opt-outs: a user who opted out of
 * everything still gets a password reset link they asked for.
 */

export const CHANNELS = ["email", "sms", "push"] as const;
export type Channel = (typeof CHANNELS)[number];

/** Categories a user may opt out of; `security` is essential and cannot be. */
export const OPTIONAL_CATEGORIES = ["onboarding", "reminders"] as const;
export type OptionalCategory = (typeof OPTIONAL_CATEGORIES)[number];
export type Category = OptionalCategory | "security";

/** `user.login` is notified only for a sign-in from a device not seen before: this is its template key. */
export const NEW_DEVICE_SIGN_IN = "user.login.new_device";

export const NOTIFIABLE_EVENTS = {
  "user.created": { category: "onboarding", what: "Welcome, when a user is created" },
  "user.email_verification_requested": { category: "security", what: "The email verification link" },
  "user.password_reset_requested": { category: "security", what: "The password reset link" },
  "user.activation_reminder": {
    category: "reminders",
    what: "A reminder to users who never signed in, N days after their creation (daily cron)",
  },
  [NEW_DEVICE_SIGN_IN]: { category: "security", what: "A sign-in from a device the user had not used before" },
  "user.re_engagement": {
    category: "reminders",
    what: "An invitation to come back, sent to an audience (POST /v1/notifications/broadcasts: a filter or a segment)",
  },
} as const satisfies Record<string, { category: Category; what: string }>;
export type NotifiableEvent = keyof typeof NOTIFIABLE_EVENTS;

export function isNotifiableEvent(value: string): value is NotifiableEvent {
  return Object.hasOwn(NOTIFIABLE_EVENTS, value);
}

export function categoryOf(event: NotifiableEvent): Category {
  return NOTIFIABLE_EVENTS[event].category;
}

/** What every message may use. */
const COMMON_SAMPLE = {
  user: { id: "usr_01JD8Z6Q1W3V8K2N4T5R6Y7P9A", name: "Ada Lovelace", email: "ada@example.com", username: "ada" },
  app: { name: "Example" },
  unsubscribeUrl: "https://uom.example.com/v1/notifications/unsubscribe?token=…",
};

/** The data a preview renders with when the caller gives none; the sender gives the same names. */
export const SAMPLE_DATA: Record<NotifiableEvent, Record<string, unknown>> = {
  "user.created": COMMON_SAMPLE,
  "user.email_verification_requested": {
    ...COMMON_SAMPLE,
    link: "https://app.example.com/verify-email?token=…",
    token: "…",
    expiresAt: "2026-01-02T10:00:00.000Z",
  },
  "user.password_reset_requested": {
    ...COMMON_SAMPLE,
    link: "https://app.example.com/reset-password?token=…",
    token: "…",
    expiresAt: "2026-01-01T10:30:00.000Z",
  },
  "user.activation_reminder": { ...COMMON_SAMPLE, link: "https://app.example.com/sign-in", days: 3 },
  "user.re_engagement": { ...COMMON_SAMPLE, link: "https://app.example.com/sign-in" },
  [NEW_DEVICE_SIGN_IN]: {
    ...COMMON_SAMPLE,
    signIn: { at: "2026-01-01T10:00:00.000Z", method: "password" },
    link: "https://app.example.com/reset-password",
  },
};

/**
 * The locales to try for a user's locale, most specific first, ending with the tenant's default and `en`:
 * `fr-CA` → `fr-CA`, `fr`, then the default.
 */
export function localeChain(locale: string | null | undefined, defaultLocale: string): string[] {
  const chain: string[] = [];
  const add = (value: string) => {
    if (!chain.includes(value)) chain.push(value);
  };
  if (locale) {
    const parts = locale.split("-");
    for (let n = parts.length; n > 0; n--) add(normalizeLocale(parts.slice(0, n).join("-")));
  }
  add(normalizeLocale(defaultLocale));
  add("en");
  return chain;
}

/** BCP 47 case conventions (RFC 5646 §2.1.1): `FR-ca` → `fr-CA`. */
export function normalizeLocale(locale: string): string {
  return locale
    .split("-")
    .map((part, i) => {
      if (i === 0) return part.toLowerCase();
      if (part.length === 2) return part.toUpperCase();
      if (part.length === 4) return part.charAt(0).toUpperCase() + part.slice(1).toLowerCase();
      return part.toLowerCase();
    })
    .join("-");
}
