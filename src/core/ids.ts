import { base32 } from "./crypto/encoding";

/**
 * Type-prefixed, time-ordered IDs (`usr_01JD…`): a ULID (48-bit millisecond time + 80 random bits,
 * Crockford base32) so that IDs sort by creation time, monotonic within an isolate.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
let lastRandom = new Uint8Array(10);

function incremented(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const next = bytes.slice();
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] === 255) {
      next[i] = 0;
    } else {
      next[i] = (next[i] as number) + 1;
      return next;
    }
  }
  return crypto.getRandomValues(new Uint8Array(10));
}

function ulid(now: number): string {
  if (now <= lastTime) {
    lastRandom = incremented(lastRandom);
  } else {
    lastTime = now;
    lastRandom = crypto.getRandomValues(new Uint8Array(10));
  }
  let time = lastTime;
  let timePart = "";
  for (let i = 0; i < 10; i++) {
    timePart = CROCKFORD[time % 32] + timePart;
    time = Math.floor(time / 32);
  }
  return timePart + base32(lastRandom, CROCKFORD);
}

export type IdPrefix =
  | "usr"
  | "ten"
  | "key"
  | "aud"
  | "req"
  | "evt"
  | "cli"
  | "ses"
  | "sig"
  | "tok"
  | "fld"
  | "job"
  | "pcr"
  | "act"
  | "axe"
  | "whk"
  | "dlv"
  // notifications, notification templates, push subscriptions, email Message-IDs (src/modules/notifications)
  | "ntf"
  // notification broadcasts (src/modules/notifications/broadcasts.ts)
  | "bcs"
  | "ntp"
  | "psh"
  | "msg"
  // report schedules and their runs (src/modules/reports)
  | "rps"
  | "rpr";

export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${ulid(now)}`;
}

/** The creation time (ms) in an id made by newId, or null when it is not one. */
export function idTime(id: string): number | null {
  const match = /^[a-z]{3}_([0-9A-HJKMNP-TV-Z]{10})[0-9A-HJKMNP-TV-Z]{16}$/.exec(id);
  if (!match) return null;
  let time = 0;
  for (const char of match[1] as string) time = time * 32 + CROCKFORD.indexOf(char);
  return time;
}
