import type { Channel, NotifiableEvent } from "./catalogue";
import { NEW_DEVICE_SIGN_IN } from "./catalogue";

/** A template as the sender uses it: the tenant's own or one shipped here. */
export interface TemplateContent {
  id: string;
  name: string;
  event: NotifiableEvent;
  channel: Channel;
  locale: string;
  subject: string | null;
  html: string | null;
  text: string;
}

type DefaultText = Omit<TemplateContent, "id" | "event" | "channel" | "locale">;

const footer = {
  en: "You get this message because you have an account with {{app.name}}.",
  fr: "Vous recevez ce message parce que vous avez un compte {{app.name}}.",
};

function email(
  subject: string,
  lines: readonly string[],
  action: { label: string } | null,
  lang: "en" | "fr",
  name: string,
): DefaultText {
  const paragraphs = lines.map((line) => `<p>${line}</p>`).join("\n");
  const button = action ? `\n<p><a href="{{link}}">${action.label}</a></p>` : "";
  return {
    name,
    subject,
    html: `<!doctype html>\n<html><body>\n${paragraphs}${button}\n<p><small>${footer[lang]}</small></p>\n</body></html>`,
    text: `${lines.join("\n\n")}${action ? `\n\n${action.label}: {{link}}` : ""}\n\n-- \n${footer[lang]}`,
  };
}

/** The templates shipped with the service: email for every event in English and French, SMS and push for some. */
const DEFAULTS: Record<string, DefaultText> = {
  "user.created/email/en": email(
    "Welcome to {{app.name}}, {{user.name}}",
    ["Hello {{user.name}},", "Your {{app.name}} account is ready."],
    null,
    "en",
    "Welcome",
  ),
  "user.created/email/fr": email(
    "Bienvenue sur {{app.name}}, {{user.name}}",
    ["Bonjour {{user.name}},", "Votre compte {{app.name}} est prêt."],
    null,
    "fr",
    "Bienvenue",
  ),
  "user.email_verification_requested/email/en": email(
    "Confirm your email address for {{app.name}}",
    ["Hello {{user.name}},", "Please confirm your email address. The link works until {{expiresAt}}."],
    { label: "Confirm my email address" },
    "en",
    "Email verification",
  ),
  "user.email_verification_requested/email/fr": email(
    "Confirmez votre adresse email pour {{app.name}}",
    ["Bonjour {{user.name}},", "Merci de confirmer votre adresse email. Le lien est valable jusqu’à {{expiresAt}}."],
    { label: "Confirmer mon adresse" },
    "fr",
    "Vérification de l’adresse email",
  ),
  "user.password_reset_requested/email/en": email(
    "Reset your {{app.name}} password",
    [
      "Hello {{user.name}},",
      "Someone asked to reset your password. If it was you, use the link below before {{expiresAt}}; if not, ignore this message.",
    ],
    { label: "Choose a new password" },
    "en",
    "Password reset",
  ),
  "user.password_reset_requested/email/fr": email(
    "Réinitialisez votre mot de passe {{app.name}}",
    [
      "Bonjour {{user.name}},",
      "Une réinitialisation de votre mot de passe a été demandée. Si c’est vous, utilisez le lien ci-dessous avant {{expiresAt}} ; sinon, ignorez ce message.",
    ],
    { label: "Choisir un nouveau mot de passe" },
    "fr",
    "Réinitialisation du mot de passe",
  ),
  "user.activation_reminder/email/en": email(
    "Your {{app.name}} account is waiting for you",
    ["Hello {{user.name}},", "Your account was created {{days}} days ago and you have not signed in yet."],
    { label: "Sign in" },
    "en",
    "Activation reminder",
  ),
  "user.activation_reminder/email/fr": email(
    "Votre compte {{app.name}} vous attend",
    [
      "Bonjour {{user.name}},",
      "Votre compte a été créé il y a {{days}} jours et vous ne vous êtes pas encore connecté.",
    ],
    { label: "Se connecter" },
    "fr",
    "Rappel d’activation",
  ),
  "user.re_engagement/email/en": email(
    "We miss you at {{app.name}}",
    [
      "Hello {{user.name}},",
      "It has been a while since your last visit. Here is what you may have missed — come back and see.",
    ],
    { label: "Sign in" },
    "en",
    "Re-engagement",
  ),
  "user.re_engagement/email/fr": email(
    "{{app.name}} vous attend",
    ["Bonjour {{user.name}},", "Cela fait un moment depuis votre dernière visite. Revenez voir ce qui a changé."],
    { label: "Se connecter" },
    "fr",
    "Relance",
  ),
  [`${NEW_DEVICE_SIGN_IN}/email/en`]: email(
    "New sign-in to your {{app.name}} account",
    [
      "Hello {{user.name}},",
      "Your account was signed in to from a new device at {{signIn.at}}. If it was not you, reset your password now.",
    ],
    { label: "Reset my password" },
    "en",
    "New-device sign-in",
  ),
  [`${NEW_DEVICE_SIGN_IN}/email/fr`]: email(
    "Nouvelle connexion à votre compte {{app.name}}",
    [
      "Bonjour {{user.name}},",
      "Votre compte a été utilisé depuis un nouvel appareil le {{signIn.at}}. Si ce n’était pas vous, changez votre mot de passe.",
    ],
    { label: "Changer mon mot de passe" },
    "fr",
    "Connexion depuis un nouvel appareil",
  ),
  "user.password_reset_requested/sms/en": {
    name: "Password reset (SMS)",
    subject: null,
    html: null,
    text: "{{app.name}}: reset your password with {{link}} (valid until {{expiresAt}}). Not you? Ignore this.",
  },
  [`${NEW_DEVICE_SIGN_IN}/sms/en`]: {
    name: "New-device sign-in (SMS)",
    subject: null,
    html: null,
    text: "{{app.name}}: new sign-in to your account at {{signIn.at}}. Not you? Reset your password.",
  },
  [`${NEW_DEVICE_SIGN_IN}/push/en`]: {
    name: "New-device sign-in (push)",
    subject: "New sign-in to {{app.name}}",
    html: null,
    text: "Your account was signed in to from a new device at {{signIn.at}}.",
  },
};

const PREFIX = "default.";

/** The id of a shipped template: `default.user.created.email.en`. */
export function defaultTemplateId(event: string, channel: string, locale: string): string {
  return `${PREFIX}${event}.${channel}.${locale}`;
}

export function isDefaultTemplateId(id: string): boolean {
  return id.startsWith(PREFIX);
}

function contentOf(key: string, text: DefaultText): TemplateContent {
  const [event, channel, locale] = key.split("/") as [NotifiableEvent, Channel, string];
  return { id: defaultTemplateId(event, channel, locale), event, channel, locale, ...text };
}

export const DEFAULT_TEMPLATES: readonly TemplateContent[] = Object.entries(DEFAULTS).map(([key, text]) =>
  contentOf(key, text),
);

export function findDefaultTemplate(event: string, channel: string, locale: string): TemplateContent | undefined {
  const text = DEFAULTS[`${event}/${channel}/${locale}`];
  return text ? contentOf(`${event}/${channel}/${locale}`, text) : undefined;
}

export function findDefaultTemplateById(id: string): TemplateContent | undefined {
  return DEFAULT_TEMPLATES.find((template) => template.id === id);
}
