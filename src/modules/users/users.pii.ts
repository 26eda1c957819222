import type { ServiceContext } from "../../core/context";
import { blindIndex, blindIndexKey } from "../../core/crypto/blind-index";
import { activeDataKey, type DataKey, decryptFields, encryptField } from "../../core/crypto/data-keys";
import type { SealedUserColumns, StoredUserRow, UserRow } from "../../core/db/tenant-schema";
import { attributePresenter, liveFields } from "../schema/attributes";
import { tenantSchema } from "../schema/schema.service";
import { type GramHasher, gramHasher } from "../search/keyed-grams";
import { normalizeEmail } from "./users.mapping";

/**
 * A user's personal data at rest (docs/security.md, "Personal data at rest"): email and phone are stored only as
 * AES-256-GCM ciphertexts under the tenant's data key (the user id and column as additional data) plus keyed
 * blind indexes for exact lookups and the unique email, and keyed n-gram tokens for part-of-value search
 * (`contact_grams`). The rest of the module handles `UserRow`s, opened.
 */

/** What reading or writing a tenant's users needs: its database, and the tenant (scope) and secrets for its keys. */
export type UserStore = Pick<ServiceContext, "env" | "db" | "scope">;

const EMAIL = "users.email";
const PHONE = "users.phone";
/** Rows written before tenant migration 5 hold plaintext tagged `v0.` until the rotation job encrypts them. */
const LEGACY = "v0.";

export interface SealedPii {
  emailCt: string;
  emailBidx: string;
  phoneCt: string | null;
  phoneBidx: string | null;
  keyVersion: number;
  contactGrams: string;
}

/** The keyed n-gram hashers of email and phone (search/keyed-grams.ts); share one set across a batch of rows. */
export interface ContactHashers {
  email: GramHasher;
  phone: GramHasher;
}

export async function contactHashers(store: UserStore): Promise<ContactHashers> {
  const [email, phone] = await Promise.all([
    gramHasher(store.env.MASTER_KEY, store.scope, EMAIL),
    gramHasher(store.env.MASTER_KEY, store.scope, PHONE),
  ]);
  return { email, phone };
}

/**
 * What `users.contact_grams` holds for this email and phone: the email's tokens, then the phone's, each under its
 * own key (so no phrase of one can match across into the other).
 */
async function contactGrams(hashers: ContactHashers, email: string, phone: string | null): Promise<string> {
  const [emailTokens, phoneTokens] = await Promise.all([
    hashers.email.valueTokens(normalizeEmail(email)),
    phone === null ? [] : hashers.phone.valueTokens(normalizePhone(phone)),
  ]);
  return [...emailTokens, ...phoneTokens].join(" ");
}

/** A user's attributes as stored: `pii` custom fields sealed apart from the plain ones. */
export interface SealedAttributes {
  attributes: Record<string, unknown>;
  piiAttributes: Record<string, string> | null;
  piiIndex: Record<string, string> | null;
  /** Keyed n-gram tokens of the `searchable` pii fields' values (one key for all of a tenant's pii fields). */
  piiGrams: string | null;
}

/** The keyed n-gram hasher of `pii` custom fields (searched by `q=` without their plaintext). */
export function piiHasher(store: UserStore): Promise<GramHasher> {
  return gramHasher(store.env.MASTER_KEY, store.scope, "users.attributes");
}

/** A searchable pii value as its n-grams are taken: text, NFC, lower-case (as `q=` words are). */
export function piiSearchText(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => String(item).normalize("NFC").toLowerCase());
}

function context(column: string, userId: string): string {
  return `${column}\u0000${userId}`;
}

/** Phones are validated as E.164 on the way in; the index only trims, so stored and looked-up values agree. */
export function normalizePhone(phone: string): string {
  return phone.trim();
}

async function indexToken(store: UserStore, index: string, normalized: string): Promise<string> {
  return blindIndex(await blindIndexKey(store.env.MASTER_KEY, store.scope, index), normalized);
}

/** The blind index of an email (normalised here): what `users.email_bidx` holds for it. */
export function emailIndex(store: UserStore, email: string): Promise<string> {
  return indexToken(store, EMAIL, normalizeEmail(email));
}

/** The blind index of a phone number: what `users.phone_bidx` holds for it. */
export function phoneIndex(store: UserStore, phone: string): Promise<string> {
  return indexToken(store, PHONE, normalizePhone(phone));
}

/** Blind index → the normalised email it stands for, for a set of normalised emails. */
export async function emailIndexes(store: UserStore, normalized: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(normalized)];
  const tokens = await Promise.all(unique.map((email) => indexToken(store, EMAIL, email)));
  return new Map(tokens.map((token, i) => [token, unique[i] as string]));
}

/**
 * Seals one user's personal data under `key` (the tenant's active data key unless given). Batches pass one
 * `hashers` for all their rows, so a trigram common to many rows is signed once.
 */
export async function sealPii(
  store: UserStore,
  user: { id: string; email: string; phone: string | null },
  key?: DataKey,
  hashers?: ContactHashers,
): Promise<SealedPii> {
  const [dataKey, gramHashers] = await Promise.all([
    key ?? activeDataKey(store.env, store.scope),
    hashers ?? contactHashers(store),
  ]);
  const [emailCt, emailBidx, phoneCt, phoneBidx, grams] = await Promise.all([
    encryptField(dataKey, context(EMAIL, user.id), user.email),
    emailIndex(store, user.email),
    user.phone === null ? null : encryptField(dataKey, context(PHONE, user.id), user.phone),
    user.phone === null ? null : phoneIndex(store, user.phone),
    contactGrams(gramHashers, user.email, user.phone),
  ]);
  return { emailCt, emailBidx, phoneCt, phoneBidx, keyVersion: dataKey.version, contactGrams: grams };
}

/** A sealed value to open: the column (additional data with the user id) it was sealed for. */
interface SealedValue {
  column: string;
  userId: string;
  ciphertext: string;
}

/** Opens sealed values in one go (one key lookup per version, the AES-GCM work together), in order. */
async function openValues(store: UserStore, values: readonly SealedValue[]): Promise<string[]> {
  const sealed = values.filter((value) => !value.ciphertext.startsWith(LEGACY));
  const opened = await decryptFields(
    store.env,
    store.scope,
    sealed.map(({ column, userId, ciphertext }) => ({ context: context(column, userId), ciphertext })),
  );
  let next = 0;
  return values.map(({ ciphertext }) =>
    ciphertext.startsWith(LEGACY) ? ciphertext.slice(LEGACY.length) : (opened[next++] as string),
  );
}

/** The opened personal data of a stored row (CiphertextError when a ciphertext does not open). */
export async function openPii(
  store: UserStore,
  row: { id: string; emailCt: string; phoneCt: string | null },
): Promise<{ email: string; emailNormalized: string; phone: string | null }> {
  const values = [{ column: EMAIL, userId: row.id, ciphertext: row.emailCt }];
  if (row.phoneCt !== null) values.push({ column: PHONE, userId: row.id, ciphertext: row.phoneCt });
  const [email, phone] = (await openValues(store, values)) as [string, string | undefined];
  return { email, emailNormalized: normalizeEmail(email), phone: phone ?? null };
}

type Sealed<T> = T & Pick<StoredUserRow, "id" | "emailCt" | "phoneCt">;
export type Opened<T> = Omit<T, SealedUserColumns> & { email: string; emailNormalized: string; phone: string | null };

/**
 * A stored row (all columns or some) with its personal data opened and the sealed columns left out; its
 * `attributes` are presented against the tenant's schema (`pii` fields opened, background changes applied).
 */
export async function openUserRow<T extends object>(store: UserStore, row: Sealed<T>): Promise<Opened<T>> {
  return (await openUserRows(store, [row]))[0] as Opened<T>;
}

/**
 * Opens many rows at once: every ciphertext of the page (emails, phones, `pii` fields) in one batch, the
 * schema read once. A page of 1,000 users is ~1,350 AES-GCM operations; done row by row, the promises and
 * lookups around them cost three times the cryptography.
 */
export async function openUserRows<T extends object>(
  store: UserStore,
  rows: readonly Sealed<T>[],
): Promise<Opened<T>[]> {
  if (rows.length === 0) return [];
  const withAttributes = "attributes" in (rows[0] as T);
  const values: SealedValue[] = [];
  for (const row of rows) {
    values.push({ column: EMAIL, userId: row.id, ciphertext: row.emailCt });
    if (row.phoneCt !== null) values.push({ column: PHONE, userId: row.id, ciphertext: row.phoneCt });
    const sealed = withAttributes ? (row as Partial<StoredUserRow>).piiAttributes : null;
    for (const [fieldId, ciphertext] of Object.entries(sealed ?? {})) {
      values.push({ column: attributeColumn(fieldId), userId: row.id, ciphertext });
    }
  }
  const [opened, schema] = await Promise.all([openValues(store, values), withAttributes ? tenantSchema(store) : null]);
  const present = schema && attributePresenter(schema);
  let next = 0;
  return rows.map((row) => {
    const {
      emailCt,
      emailBidx,
      phoneCt,
      phoneBidx,
      keyVersion,
      piiAttributes,
      piiIndex,
      contactGrams,
      piiGrams,
      ...rest
    } = row as Sealed<T> & Partial<StoredUserRow>;
    const email = opened[next++] as string;
    const phone = phoneCt === null ? null : (opened[next++] as string);
    const result: Opened<T> = {
      ...(rest as Omit<T, SealedUserColumns>),
      email,
      emailNormalized: normalizeEmail(email),
      phone,
    };
    if (present) {
      const pii: Record<string, unknown> = {};
      for (const fieldId of Object.keys(piiAttributes ?? {})) pii[fieldId] = JSON.parse(opened[next++] as string);
      const withPlain = result as unknown as { attributes: Record<string, unknown> };
      withPlain.attributes = present(withPlain.attributes, pii);
    }
    return result;
  });
}

/** Where a `pii` field's value is bound (its id survives renames, so a rename moves no ciphertext). */
function attributeColumn(fieldId: string): string {
  return `users.attributes.${fieldId}`;
}

/** The blind index of a `pii` field's value: strings compare case-insensitively, like other filters. */
export function attributeIndex(store: UserStore, fieldId: string, value: unknown): Promise<string> {
  const canonical = typeof value === "string" ? value.normalize("NFC").toLowerCase() : JSON.stringify(value);
  return indexToken(store, attributeColumn(fieldId), canonical);
}

/** Splits validated attributes into the plain ones and the sealed `pii` fields (under `key`). */
export async function sealAttributes(
  store: UserStore,
  userId: string,
  attributes: Record<string, unknown>,
  key: DataKey,
): Promise<SealedAttributes> {
  const piiFields = liveFields(await tenantSchema(store)).filter((field) => field.pii);
  if (piiFields.length === 0) return { attributes, piiAttributes: null, piiIndex: null, piiGrams: null };
  const hasher = piiFields.some((field) => field.searchable) ? await piiHasher(store) : null;
  const plain = { ...attributes };
  const sealed: Record<string, string> = {};
  const index: Record<string, string> = {};
  const grams: string[] = [];
  await Promise.all(
    piiFields.map(async (field) => {
      const value = plain[field.name];
      delete plain[field.name];
      if (value === undefined || value === null) return;
      sealed[field.id] = await encryptField(key, context(attributeColumn(field.id), userId), JSON.stringify(value));
      if (field.filterable || field.unique) index[field.id] = await attributeIndex(store, field.id, value);
      if (field.searchable && hasher) {
        for (const text of piiSearchText(value)) grams.push((await hasher.valueTokens(text)).join(" "));
      }
    }),
  );
  return {
    attributes: plain,
    piiAttributes: sealed,
    piiIndex: index,
    piiGrams: grams.length > 0 ? grams.join(" ") : null,
  };
}

/** The opened `pii` field values of a row, by field id. */
export async function openPiiAttributes(
  store: UserStore,
  userId: string,
  sealed: Record<string, string> | null,
): Promise<Record<string, unknown>> {
  const entries = Object.entries(sealed ?? {});
  const opened = await openValues(
    store,
    entries.map(([fieldId, ciphertext]) => ({ column: attributeColumn(fieldId), userId, ciphertext })),
  );
  return Object.fromEntries(entries.map(([fieldId], i) => [fieldId, JSON.parse(opened[i] as string) as unknown]));
}

/** Re-seals `pii` field values under `key` (data-key rotation); the blind indexes do not change. */
export async function resealPiiAttributes(
  store: UserStore,
  userId: string,
  sealed: Record<string, string> | null,
  key: DataKey,
): Promise<Record<string, string> | null> {
  if (!sealed) return null;
  const opened = await openPiiAttributes(store, userId, sealed);
  const entries = await Promise.all(
    Object.entries(opened).map(
      async ([fieldId, value]) =>
        [fieldId, await encryptField(key, context(attributeColumn(fieldId), userId), JSON.stringify(value))] as const,
    ),
  );
  return Object.fromEntries(entries);
}

/** A user as it is stored: its personal data sealed. */
export type SealedUserRow = StoredUserRow;

/** A user as it is stored: its personal data sealed. */
export async function sealUserRow(
  store: UserStore,
  row: UserRow,
  key?: DataKey,
  hashers?: ContactHashers,
): Promise<SealedUserRow> {
  const { email, emailNormalized, phone, ...rest } = row;
  const dataKey = key ?? (await activeDataKey(store.env, store.scope));
  const [pii, attributes] = await Promise.all([
    sealPii(store, row, dataKey, hashers),
    sealAttributes(store, row.id, row.attributes, dataKey),
  ]);
  return { ...rest, ...pii, ...attributes };
}

/** Seals many rows under one active key (read once) and one set of n-gram hashers. */
export async function sealUserRows(store: UserStore, rows: readonly UserRow[]): Promise<SealedUserRow[]> {
  if (rows.length === 0) return [];
  const [key, hashers] = await Promise.all([activeDataKey(store.env, store.scope), contactHashers(store)]);
  return Promise.all(rows.map((row) => sealUserRow(store, row, key, hashers)));
}
