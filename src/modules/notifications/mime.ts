import { newId } from "../../core/ids";

/**
 * An RFC 5322 message with a multipart/alternative body (RFC 2046 §5.1.4: the text part first, the HTML part
 * last, as the preferred one). Every part is base64, so the message is 7-bit clean whatever the server offers
 * (no 8BITMIME or SMTPUTF8 needed); non-ASCII header text is RFC 2047 encoded words.
 */

export interface MailContent {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  /** Extra headers (List-Unsubscribe, …): names as given, values already valid header text. */
  headers?: Record<string, string>;
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

export function buildMessage(mail: MailContent, now = new Date()): { messageId: string; message: string } {
  const domain = addressOf(mail.from).split("@")[1] ?? "localhost";
  const messageId = `<${newId("msg").toLowerCase()}@${domain}>`;
  const headers: [string, string][] = [
    ["From", encodeAddress(mail.from)],
    ["To", encodeAddress(mail.to)],
    ["Subject", encodeWords(mail.subject)],
    ["Date", rfc5322Date(now)],
    ["Message-ID", messageId],
    ["MIME-Version", "1.0"],
    ...Object.entries(mail.headers ?? {}).map(
      ([name, value]) => [name, value.replace(/[\r\n]+/g, " ")] as [string, string],
    ),
  ];
  let body: string;
  if (mail.html === null) {
    headers.push(["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "base64"]);
    body = base64Lines(mail.text);
  } else {
    const boundary = `=_uom_${crypto.randomUUID().replaceAll("-", "")}`;
    headers.push(["Content-Type", `multipart/alternative; boundary="${boundary}"`]);
    body = [
      `--${boundary}`,
      part("text/plain", mail.text),
      `--${boundary}`,
      part("text/html", mail.html),
      `--${boundary}--`,
      "",
    ].join("\r\n");
  }
  const head = headers.map(([name, value]) => `${name}: ${value}`).join("\r\n");
  return { messageId, message: `${head}\r\n\r\n${body}` };
}
