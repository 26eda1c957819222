import { blindIndexKey } from "../../core/crypto/blind-index";
import { base32, utf8 } from "../../core/crypto/encoding";

/**
 * Keyed n-grams: part-of-value search over fields stored only encrypted (docs/security.md, "Search over
 * encrypted fields"). A value is padded with a boundary mark at each end and cut into its character trigrams;
 * each trigram becomes a short token, a truncated HMAC-SHA256 under a per-tenant, per-field key. The tokens are
 * stored in order, space-separated, in the `users_grams` FTS5 table; a searched fragment becomes the phrase of
 * its own trigrams' tokens, and a phrase of consecutive tokens matches exactly where the trigrams occur
 * consecutively, that is where the fragment is a substring (up to HMAC collisions). The boundary mark lets
 * "starts with" and "ends with" be phrases too.
 */

/** Marks the start and end of a value; a control character, which no email, phone or searched word contains. */
export const GRAM_BOUNDARY = "\u0001";
/** 10 base32 characters = 50 bits: collisions among a tenant's distinct trigrams stay negligible. */
const TOKEN_CHARS = 10;
const TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const GRAM = 3;

/** The character (code point) trigrams of `text`, in order. */
export function trigrams(text: string): string[] {
  const chars = Array.from(text);
  const grams: string[] = [];
  for (let i = 0; i + GRAM <= chars.length; i++) grams.push(chars.slice(i, i + GRAM).join(""));
  return grams;
}

function tokenOf(mac: ArrayBuffer): string {
  return base32(new Uint8Array(mac, 0, 7), TOKEN_ALPHABET).slice(0, TOKEN_CHARS);
}

/**
 * Tokens already made, per isolate: a tenant's values share most of their trigrams (domains, digits, common
 * syllables), so a bulk write of 1000 rows would otherwise sign tens of thousands of trigrams one WebCrypto call
 * at a time. Keyed by a small number standing for the HMAC key, plus the trigram; bounded, oldest out first.
 * It holds nothing the isolate's memory does not already hold (MASTER_KEY and the keys derived from it).
 */
const MADE_MAX = 32_768;
const made = new Map<string, string>();
const keyNumbers = new WeakMap<CryptoKey, number>();
let nextKeyNumber = 0;

function keyNumber(key: CryptoKey): number {
  let number = keyNumbers.get(key);
  if (number === undefined) {
    number = nextKeyNumber++;
    keyNumbers.set(key, number);
  }
  return number;
}

function remember(id: string, token: string): void {
  made.set(id, token);
  if (made.size > MADE_MAX) {
    const oldest = made.keys().next();
    if (!oldest.done) made.delete(oldest.value);
  }
}

/** Turns trigrams into tokens under one field's key; one per request or batch (it also dedupes work in flight). */
export class GramHasher {
  private readonly pending = new Map<string, Promise<string>>();
  private readonly prefix: string;

  constructor(private readonly key: CryptoKey) {
    this.prefix = `${keyNumber(key)}\u0000`;
  }

  private token(gram: string): string | Promise<string> {
    const id = this.prefix + gram;
    const known = made.get(id);
    if (known !== undefined) return known;
    let token = this.pending.get(gram);
    if (!token) {
      token = crypto.subtle.sign("HMAC", this.key, utf8(gram)).then((mac) => {
        const value = tokenOf(mac);
        remember(id, value);
        return value;
      });
      this.pending.set(gram, token);
    }
    return token;
  }

  /** Tokens of trigrams, in order; no promise per trigram when all are known (the common case in bulk). */
  private async tokens(grams: readonly string[]): Promise<string[]> {
    const tokens = grams.map((gram) => this.token(gram));
    return tokens.every((token) => typeof token === "string") ? (tokens as string[]) : Promise.all(tokens);
  }

  /** The tokens of a stored (already normalised) value, boundary marks included: what the index holds for it. */
  valueTokens(normalized: string): Promise<string[]> {
    const bare = normalized.replaceAll(GRAM_BOUNDARY, "");
    return this.tokens(trigrams(`${GRAM_BOUNDARY}${bare}${GRAM_BOUNDARY}`));
  }

  /**
   * The tokens of a searched (normalised) fragment, anchored at the value's start and/or end when asked;
   * null when that leaves fewer than three characters, which no trigram can match.
   */
  async fragmentTokens(fragment: string, anchor: { start?: boolean; end?: boolean } = {}): Promise<string[] | null> {
    const bare = fragment.replaceAll(GRAM_BOUNDARY, "");
    const text = `${anchor.start ? GRAM_BOUNDARY : ""}${bare}${anchor.end ? GRAM_BOUNDARY : ""}`;
    const grams = trigrams(text);
    if (grams.length === 0) return null;
    return this.tokens(grams);
  }
}

/**
 * A hasher for one keyed n-gram index (`users.email/ngram`), its key derived like the blind indexes' (HKDF from
 * MASTER_KEY, salted with the tenant id, under the index's own name), so it survives data-key rotation and
 * differs per tenant and per field.
 */
export async function gramHasher(masterKey: string, tenantId: string, index: string): Promise<GramHasher> {
  return new GramHasher(await blindIndexKey(masterKey, tenantId, `${index}/ngram`));
}

/** An FTS5 phrase of tokens (ours: base32 only, nothing to escape). */
export function tokenPhrase(tokens: readonly string[]): string {
  return `"${tokens.join(" ")}"`;
}
