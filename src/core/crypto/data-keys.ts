import { controlDb } from "../db/databases";
import { fromBase64Url, toBase64Url, utf8 } from "./encoding";
import { deriveKeyBytes } from "./master-key";

/**
 * Per-tenant data keys (envelope encryption): each tenant has 32 random bytes per key version, stored in the
 * control database only wrapped with AES-256-GCM under a key-encryption key derived from MASTER_KEY for that
 * tenant (HKDF, RFC 5869), the wrap bound to tenant and version as additional data. The highest version is the
 * active one: new ciphertexts use it; older versions stay readable until no row uses them.
 *
 * Field ciphertexts are `v<version>.<base64url(iv ‖ AES-256-GCM ciphertext ‖ tag)>`, with a caller-chosen
 * context (column and row id) as additional data, so a ciphertext copied to another row or column fails to open.
 */

const WRAP_PURPOSE = "uom/data-key-wrap/v1";
const IV_BYTES = 12;
/**
 * How long an isolate keeps using the active version it last read. After a rotation, other isolates may write
 * with the previous version for this long; those rows are re-encrypted by the rotation job like any other.
 */
export const ACTIVE_VERSION_TTL_MS = 60_000;

export interface DataKey {
  tenantId: string;
  version: number;
  key: CryptoKey;
}

/** A ciphertext that is malformed, names an unknown key version, or fails authentication (tampered or moved). */
export class CiphertextError extends Error {
  override readonly name = "CiphertextError";
}

/** Unwrapped keys, per master key, tenant and version (a version's key never changes). */
const unwrapped = new Map<string, Promise<CryptoKey>>();
/** The active version per master key and tenant, trusted for ACTIVE_VERSION_TTL_MS. */
const activeVersions = new Map<string, { version: number; until: number }>();

function cacheId(masterKey: string, tenantId: string, version?: number): string {
  return version === undefined ? `${masterKey}\u0000${tenantId}` : `${masterKey}\u0000${tenantId}\u0000${version}`;
}

async function keyEncryptionKey(masterKey: string, tenantId: string): Promise<CryptoKey> {
  const raw = await deriveKeyBytes(masterKey, WRAP_PURPOSE, tenantId);
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

function wrapContext(tenantId: string, version: number) {
  return utf8(`uom-data-key\u0000${tenantId}\u0000${version}`);
}

async function wrapNewKey(masterKey: string, tenantId: string, version: number): Promise<string> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const kek = await keyEncryptionKey(masterKey, tenantId);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: wrapContext(tenantId, version) }, kek, raw),
  );
  raw.fill(0);
  return toBase64Url(concat(iv, sealed));
}

async function unwrapKey(masterKey: string, tenantId: string, version: number, wrapped: string): Promise<CryptoKey> {
  const bytes = fromBase64Url(wrapped);
  const kek = await keyEncryptionKey(masterKey, tenantId);
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData: wrapContext(tenantId, version) },
        kek,
        bytes.slice(IV_BYTES),
      ),
    );
  } catch {
    throw new CiphertextError(`data key v${version} of tenant ${tenantId} does not unwrap under this MASTER_KEY`);
  }
  // not extractable: the raw key never leaves the crypto implementation again
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  raw.fill(0);
  return key;
}

function remember(env: Env, tenantId: string, version: number, key: () => Promise<CryptoKey>): Promise<CryptoKey> {
  const id = cacheId(env.MASTER_KEY, tenantId, version);
  let pending = unwrapped.get(id);
  if (!pending) {
    pending = key();
    pending.catch(() => unwrapped.delete(id));
    unwrapped.set(id, pending);
  }
  return pending;
}

interface KeyRow {
  version: number;
  wrapped_key: string;
}

async function latestKeyRow(control: D1Database, tenantId: string): Promise<KeyRow | null> {
  return control
    .prepare("SELECT version, wrapped_key FROM tenant_data_keys WHERE tenant_id = ? ORDER BY version DESC LIMIT 1")
    .bind(tenantId)
    .first<KeyRow>();
}

/**
 * The INSERT of a new key version (ignored when that version exists already: two rotations racing agree on
 * one new version). For a batch with the rotation's audit event.
 */
export async function newDataKeyStatement(
  env: Env,
  control: D1Database,
  tenantId: string,
  version: number,
): Promise<D1PreparedStatement> {
  return control
    .prepare("INSERT OR IGNORE INTO tenant_data_keys (tenant_id, version, wrapped_key, created_at) VALUES (?, ?, ?, ?)")
    .bind(tenantId, version, await wrapNewKey(env.MASTER_KEY, tenantId, version), new Date().toISOString());
}

/** The highest key version of a tenant, 0 when it has none yet. */
export async function latestDataKeyVersion(env: Env, tenantId: string): Promise<number> {
  return (await latestKeyRow(await controlDb(env), tenantId))?.version ?? 0;
}

/**
 * The key new ciphertexts of this tenant use. Created on first use: concurrent first uses race on the primary
 * key with INSERT OR IGNORE and all read back the one that won. `fresh` skips the isolate's cached version.
 */
export async function activeDataKey(env: Env, tenantId: string, options: { fresh?: boolean } = {}): Promise<DataKey> {
  const cached = activeVersions.get(cacheId(env.MASTER_KEY, tenantId));
  if (cached && cached.until > Date.now() && !options.fresh) {
    return { tenantId, version: cached.version, key: await dataKeyVersion(env, tenantId, cached.version) };
  }
  const control = await controlDb(env);
  let row = await latestKeyRow(control, tenantId);
  if (!row) {
    await (await newDataKeyStatement(env, control, tenantId, 1)).run();
    row = await latestKeyRow(control, tenantId);
    if (!row) throw new Error(`tenant ${tenantId}: no data key after creating one`);
  }
  const { version, wrapped_key } = row;
  const key = await remember(env, tenantId, version, () => unwrapKey(env.MASTER_KEY, tenantId, version, wrapped_key));
  activeVersions.set(cacheId(env.MASTER_KEY, tenantId), { version, until: Date.now() + ACTIVE_VERSION_TTL_MS });
  return { tenantId, version, key };
}

/** The key of one version (for decryption), from the isolate's cache or the control database. */
export function dataKeyVersion(env: Env, tenantId: string, version: number): Promise<CryptoKey> {
  return remember(env, tenantId, version, async () => {
    const row = await (await controlDb(env))
      .prepare("SELECT wrapped_key FROM tenant_data_keys WHERE tenant_id = ? AND version = ?")
      .bind(tenantId, version)
      .first<{ wrapped_key: string }>();
    if (!row) throw new CiphertextError(`tenant ${tenantId} has no data key v${version}`);
    return unwrapKey(env.MASTER_KEY, tenantId, version, row.wrapped_key);
  });
}

/** Forgets this isolate's idea of the tenant's active version (after a rotation here). */
export function forgetActiveDataKey(env: Env, tenantId: string): void {
  activeVersions.delete(cacheId(env.MASTER_KEY, tenantId));
}

/** Marks every version below `version` retired (no row used them when checked); they stay readable. */
export async function retireDataKeysBelow(env: Env, tenantId: string, version: number): Promise<number> {
  const result = await (await controlDb(env))
    .prepare("UPDATE tenant_data_keys SET retired_at = ? WHERE tenant_id = ? AND version < ? AND retired_at IS NULL")
    .bind(new Date().toISOString(), tenantId, version)
    .run();
  return result.meta.changes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The key version a ciphertext names (`v<version>.…`). */
export function ciphertextVersion(ciphertext: string): number {
  const match = /^v(\d{1,9})\./.exec(ciphertext);
  if (!match) throw new CiphertextError("not a versioned ciphertext");
  return Number(match[1]);
}

/** AES-256-GCM under the data key, `context` (column and row id) as additional data. */
export async function encryptField(key: DataKey, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(context) }, key.key, utf8(plaintext)),
  );
  return `v${key.version}.${toBase64Url(concat(iv, sealed))}`;
}

/** Opens a field ciphertext of this tenant with the key version it names; CiphertextError when it cannot. */
export async function decryptField(env: Env, tenantId: string, context: string, ciphertext: string): Promise<string> {
  return (await decryptFields(env, tenantId, [{ context, ciphertext }]))[0] as string;
}

/**
 * Opens many field ciphertexts of one tenant, in order: each key version named is looked up once, and the
 * AES-GCM operations run together. CiphertextError when any does not open.
 */
export async function decryptFields(
  env: Env,
  tenantId: string,
  fields: readonly { context: string; ciphertext: string }[],
): Promise<string[]> {
  const versions = fields.map(({ ciphertext }) => ciphertextVersion(ciphertext));
  const keys = new Map<number, CryptoKey>();
  for (const version of new Set(versions)) {
    if (version < 1) throw new CiphertextError("key version 0 is not a ciphertext");
    keys.set(version, await dataKeyVersion(env, tenantId, version));
  }
  const decoder = new TextDecoder();
  return Promise.all(
    fields.map(async ({ context, ciphertext }, i) => {
      try {
        const bytes = fromBase64Url(ciphertext.slice(ciphertext.indexOf(".") + 1));
        const plaintext = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: utf8(context) },
          keys.get(versions[i] as number) as CryptoKey,
          bytes.subarray(IV_BYTES),
        );
        return decoder.decode(plaintext);
      } catch {
        throw new CiphertextError(`ciphertext does not open for ${context.replace("\u0000", " ")}`);
      }
    }),
  );
}
