import { newId } from "../../core/ids";

/**
 * An RFC 5322 message with a multipart/alternative body (RFC 2046 §5.1.4: the text part first, the HTML part
 * last, as the preferred one), inside a multipart/mixed with the attachments when there are any (RFC 2046 §5.1.3).
 * Every part is base64, so the message is 7-bit clean whatever the server offers
 * (no 8BITMIME or SMTPUTF8 needed); non-ASCII header text is RFC 2047 encoded words.
 */

export interface MailAttachment {
  filename: string;
  /** The MIME type, without parameters (`text/csv`); text is sent as UTF-8. */
  contentType: string;
  content: string;
}

export interface MailContent {
  from: string;
  /** One address, or several (all in To: a report to a team). */
  to: string | readonly string[];
  subject: string;
  text: string;
  html: string | null;
  /** Extra headers (List-Unsubscribe, …): names as given, values already valid header text. */
  headers?: Record<string, string>;
  attachments?: readonly MailAttachment[];
}

/** The addresses of `to`, as a list. */
export function recipientsOf(mail: Pick<MailContent, "to">): string[] {
  return typeof mail.to === "string" ? [mail.to] : [...mail.to];
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function base64Utf8(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * RFC 2047 §2 and §5: non-ASCII text as `=?UTF-8?B?…?=` words of at most 75 characters, split between
 * characters (never inside one), joined by folding whitespace. ASCII text is kept as is.
 */
export function encodeWords(text: string): string {
  const clean = text.replace(/[\r\n]+/g, " ");
  if (PRINTABLE_ASCII.test(clean)) return clean;
  const words: string[] = [];
  let chunk = "";
  for (const ch of clean) {
    // 75 - "=?UTF-8?B?".length - "?=".length = 63 base64 characters = 45 bytes
    if (new TextEncoder().encode(chunk + ch).length > 45) {
      words.push(`=?UTF-8?B?${base64Utf8(chunk)}?=`);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(`=?UTF-8?B?${base64Utf8(chunk)}?=`);
  return words.join("\r\n ");
}

/** `Name <addr>` with the display name encoded when needed; the address itself is left as is. */
export function encodeAddress(address: string): string {
  const match = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(address);
  if (!match) return address.trim();
  const name = (match[1] ?? "").replace(/^"|"$/g, "");
  if (!name) return `<${match[2]}>`;
  const display = PRINTABLE_ASCII.test(name) ? `"${name.replace(/["\\]/g, "\\$&")}"` : encodeWords(name);
  return `${display} <${match[2]}>`;
}

/** The bare address of `Name <addr>` or `addr`, for the SMTP envelope. */
export function addressOf(address: string): string {
  return (/<([^>]+)>/.exec(address)?.[1] ?? address).trim();
}

/** RFC 5322 §3.3 date-time: `Thu, 01 Jan 2026 10:00:00 +0000`. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/** Base64 in lines of 76 characters (RFC 2045 §6.8). */
function base64Lines(text: string): string {
  return (base64Utf8(text).match(/.{1,76}/g) ?? []).join("\r\n");
}

function part(type: string, body: string): string {
  return `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(body)}`;
}

/** A quoted MIME parameter value (RFC 2045 §5.1); a non-ASCII file name is RFC 2047 encoded, as clients accept. */
function quotedParameter(value: string): string {
  return `"${encodeWords(value).replace(/["\\]/g, "\\$&")}"`;
}

function attachmentPart(attachment: MailAttachment): string {
  const name = quotedParameter(attachment.filename);
  return [
    `Content-Type: ${attachment.contentType}; charset=utf-8; name=${name}`,
    `Content-Disposition: attachment; filename=${name}`,
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(attachment.content),
  ].join("\r\n");
}

function multipart(boundary: string, parts: string[]): string {
  return [...parts.flatMap((p) => [`--${boundary}`, p]), `--${boundary}--`, ""].join("\r\n");
}

const newBoundary = () => `=_uom_${crypto.randomUUID().replaceAll("-", "")}`;

export function buildMessage(mail: MailContent, now = new Date()): { messageId: string; message: string } {
  const domain = addressOf(mail.from).split("@")[1] ?? "localhost";
  const messageId = `<${newId("msg").toLowerCase()}@${domain}>`;
  const headers: [string, string][] = [
    ["From", encodeAddress(mail.from)],
    ["To", recipientsOf(mail).map(encodeAddress).join(", ")],
    ["Subject", encodeWords(mail.subject)],
    ["Date", rfc5322Date(now)],
    ["Message-ID", messageId],
    ["MIME-Version", "1.0"],
    ...Object.entries(mail.headers ?? {}).map(
      ([name, value]) => [name, value.replace(/[\r\n]+/g, " ")] as [string, string],
    ),
  ];
  // the message text: plain alone, or plain and HTML as alternatives
  let content: { type: string; body: string };
  if (mail.html === null) {
    content = { type: "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", body: base64Lines(mail.text) };
  } else {
    const boundary = newBoundary();
    content = {
      type: `multipart/alternative; boundary="${boundary}"`,
      body: multipart(boundary, [part("text/plain", mail.text), part("text/html", mail.html)]),
    };
  }
  let body = content.body;
  if (mail.attachments?.length) {
    const boundary = newBoundary();
    headers.push(["Content-Type", `multipart/mixed; boundary="${boundary}"`]);
    body = multipart(boundary, [
      `Content-Type: ${content.type}\r\n\r\n${content.body}`,
      ...mail.attachments.map(attachmentPart),
    ]);
  } else if (mail.html === null) {
    headers.push(["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "base64"]);
  } else {
    headers.push(["Content-Type", content.type]);
  }
  const head = headers.map(([name, value]) => `${name}: ${value}`).join("\r\n");
  return { messageId, message: `${head}\r\n\r\n${body}` };
}
