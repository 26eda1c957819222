import { backgroundContext, type ServiceContext } from "../../core/context";
import { open, seal } from "../../core/crypto/sealed-box";
import { controlDb } from "../../core/db/databases";
import { newId } from "../../core/ids";
import { auditStatement } from "../audit/audit.service";
import { LONGEST_TOKEN_SECONDS } from "./oauth.config";

/**
 * The ES256 keys that sign access tokens. Generated in the worker; the private half is stored only sealed
 * under MASTER_KEY (bound to its kid), the public half is served at /.well-known/jwks.json.
 *
 * Lifecycle of a key: published from `created_at`; signs from `activates_at`; stops signing at `retires_at`;
 * leaves the JWKS at `expires_at` = retires_at + the longest token lifetime, when every token it signed has
 * expired. A rotated-in key activates only once every cached copy of the JWKS (max-age) and of this isolate
 * cache can hold it, so a relying party never sees a kid it could not have fetched; the very first key signs at
 * once (it is in D1, hence in the JWKS, before the first token exists).
 */

/** `Cache-Control: max-age` of the JWKS. */
export const JWKS_MAX_AGE_SECONDS = 300;
/** How long an isolate trusts its copy of the key table. */
const KEY_CACHE_SECONDS = 60;
/** An unknown kid reloads the table at most this often (a flood of forged kids costs one query per period). */
const UNKNOWN_KID_RELOAD_SECONDS = 5;
/** The daily job rotates a key that has signed for this long. */
export const ROTATE_AFTER_DAYS = 30;
const ROTATION_DELAY_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_CACHE_SECONDS;

const PRIVATE_KEY_PURPOSE = "uom/signing-key/v1";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: "ES256";
  use: "sig";
}

export interface SigningKey {
  kid: string;
  publicJwk: PublicJwk;
  createdAt: number;
  activatesAt: number;
  retiresAt: number | null;
  expiresAt: number | null;
  privateSealed: string;
}

interface KeyRow {
  kid: string;
  public_jwk: string;
  private_sealed: string;
  created_at: string;
  activates_at: string;
  retires_at: string | null;
  expires_at: string | null;
}

interface KeyTable {
  keys: SigningKey[];
  loadedAt: number;
}

let table: Promise<KeyTable> | undefined;
let tableLoadedAt = 0;
let lastUnknownKidReload = 0;
const verifyKeys = new Map<string, Promise<CryptoKey>>();
const signKeys = new Map<string, Promise<CryptoKey>>();

const iso = (ms: number) => new Date(ms).toISOString();
const msOf = (text: string | null) => (text === null ? null : Date.parse(text));

function toKey(row: KeyRow): SigningKey {
  return {
    kid: row.kid,
    publicJwk: JSON.parse(row.public_jwk) as PublicJwk,
    createdAt: Date.parse(row.created_at),
    activatesAt: Date.parse(row.activates_at),
    retiresAt: msOf(row.retires_at),
    expiresAt: msOf(row.expires_at),
    privateSealed: row.private_sealed,
  };
}

async function loadTable(env: Env): Promise<KeyTable> {
  const db = await controlDb(env);
  const { results } = await db
    .prepare("SELECT * FROM signing_keys WHERE expires_at IS NULL OR expires_at > ? ORDER BY activates_at")
    .bind(iso(Date.now()))
    .all<KeyRow>();
  return { keys: results.map(toKey), loadedAt: Date.now() };
}

/** The key table, from this isolate's copy while it is fresh; concurrent misses share one query. */
function keyTable(env: Env, { reload = false } = {}): Promise<KeyTable> {
  const now = Date.now();
  if (!table || reload || tableLoadedAt + KEY_CACHE_SECONDS * 1000 <= now) {
    tableLoadedAt = now;
    const loading = loadTable(env);
    table = loading;
    loading.catch(() => {
      if (table === loading) table = undefined;
    });
  }
  return table;
}

const isPublished = (key: SigningKey, now: number) =>
  key.createdAt <= now && (key.expiresAt === null || key.expiresAt > now);
const isActive = (key: SigningKey, now: number) =>
  key.activatesAt <= now && (key.retiresAt === null || key.retiresAt > now) && isPublished(key, now);

/** The public keys a relying party may need now: the JWKS. */
export async function publishedKeys(env: Env): Promise<PublicJwk[]> {
  const now = Date.now();
  return (await keyTable(env)).keys.filter((key) => isPublished(key, now)).map((key) => key.publicJwk);
}

/** The newest active key; creates the very first one when there is none. */
async function activeKey(env: Env): Promise<SigningKey> {
  const pick = (keys: SigningKey[]) =>
    keys.filter((key) => isActive(key, Date.now())).sort((a, b) => b.activatesAt - a.activatesAt)[0];
  const cached = pick((await keyTable(env)).keys);
  if (cached) return cached;
  await createFirstKey(env);
  const created = pick((await keyTable(env, { reload: true })).keys);
  if (!created) throw new Error("no active signing key after creating one");
  return created;
}

/** What signs a token now: its kid and the private CryptoKey (imported once per isolate). */
export async function signingKey(env: Env): Promise<{ kid: string; key: CryptoKey }> {
  const active = await activeKey(env);
  let key = signKeys.get(active.kid);
  if (!key) {
    key = open(env.MASTER_KEY, PRIVATE_KEY_PURPOSE, active.kid, active.privateSealed).then((jwk) =>
      crypto.subtle.importKey("jwk", JSON.parse(jwk) as JsonWebKey, ALGORITHM, false, ["sign"]),
    );
    key.catch(() => signKeys.delete(active.kid));
    signKeys.set(active.kid, key);
  }
  return { kid: active.kid, key: await key };
}

/**
 * The public key of a published kid, or null. An unknown kid reloads the table (a key rotated in by another
 * isolate), at most once every few seconds.
 */
export async function verificationKey(env: Env, kid: string): Promise<CryptoKey | null> {
  const now = Date.now();
  let key = (await keyTable(env)).keys.find((k) => k.kid === kid && isPublished(k, now));
  if (!key && lastUnknownKidReload + UNKNOWN_KID_RELOAD_SECONDS * 1000 <= now) {
    lastUnknownKidReload = now;
    key = (await keyTable(env, { reload: true })).keys.find((k) => k.kid === kid && isPublished(k, now));
  }
  if (!key) return null;
  let imported = verifyKeys.get(kid);
  if (!imported) {
    imported = crypto.subtle.importKey("jwk", key.publicJwk, ALGORITHM, false, ["verify"]);
    imported.catch(() => verifyKeys.delete(kid));
    verifyKeys.set(kid, imported);
  }
  return imported;
}

async function generateKeyRow(env: Env, createdAt: number, activatesAt: number): Promise<KeyRow> {
  const kid = newId("sig", createdAt);
  const pair = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const { kty, crv, x, y } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const publicJwk: PublicJwk = { kty, crv, x, y, kid, alg: "ES256", use: "sig" };
  const privateJwk = JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
  return {
    kid,
    public_jwk: JSON.stringify(publicJwk),
    private_sealed: await seal(env.MASTER_KEY, PRIVATE_KEY_PURPOSE, kid, privateJwk),
    created_at: iso(createdAt),
    activates_at: iso(activatesAt),
    retires_at: null,
    expires_at: null,
  };
}

function insertKey(db: D1Database, row: KeyRow, onlyIfNoneSigns: boolean) {
  return db
    .prepare(
      `INSERT INTO signing_keys (kid, public_jwk, private_sealed, created_at, activates_at, retires_at, expires_at)
       SELECT ?1, ?2, ?3, ?4, ?5, NULL, NULL
       WHERE NOT ?6 OR NOT EXISTS (SELECT 1 FROM signing_keys WHERE retires_at IS NULL OR retires_at > ?4)`,
    )
    .bind(row.kid, row.public_jwk, row.private_sealed, row.created_at, row.activates_at, onlyIfNoneSigns ? 1 : 0);
}

/** The first key, signing at once; a no-op when another isolate created one meanwhile. */
async function createFirstKey(env: Env): Promise<void> {
  const db = await controlDb(env);
  const now = Date.now();
  await insertKey(db, await generateKeyRow(env, now, now), true).run();
}

export interface RotationOptions {
  /** The new key signs at once instead of after the JWKS caches have expired (an incident). */
  immediate?: boolean;
  /** The previous keys leave the JWKS at once: tokens they signed stop working (a compromised key). */
  revokePrevious?: boolean;
}

export interface RotationResult {
  kid: string;
  createdAt: string;
  activatesAt: string;
  retired: { kid: string; retiresAt: string; expiresAt: string }[];
}

/**
 * Adds a new key and retires every key still signing when the new one takes over; a retired key stays
 * published until every token it may sign has expired.
 */
export async function rotateSigningKey(ctx: ServiceContext, options: RotationOptions = {}): Promise<RotationResult> {
  const { env } = ctx;
  const db = await controlDb(env);
  const now = Date.now();
  const immediate = options.immediate === true || options.revokePrevious === true;
  const row = await generateKeyRow(env, now, immediate ? now : now + ROTATION_DELAY_SECONDS * 1000);
  const retiresAt = row.activates_at;
  const expiresAt = options.revokePrevious ? iso(now) : iso(Date.parse(retiresAt) + LONGEST_TOKEN_SECONDS * 1000);
  const [, retired] = await db.batch<{ kid: string; retires_at: string; expires_at: string }>([
    insertKey(db, row, false),
    db
      .prepare(
        `UPDATE signing_keys SET retires_at = min(coalesce(retires_at, ?2), ?2),
           expires_at = min(coalesce(expires_at, ?3), ?3)
         WHERE kid <> ?1 AND (retires_at IS NULL OR retires_at > ?2 OR ?4)
           AND (expires_at IS NULL OR expires_at > ?5)
         RETURNING kid, retires_at, expires_at`,
      )
      .bind(row.kid, retiresAt, expiresAt, options.revokePrevious ? 1 : 0, iso(now)),
    await auditStatement(
      { ...ctx, db },
      {
        action: "signing_key.rotated",
        resource: { type: "signing_key", id: row.kid },
        changes: {
          activatesAt: { from: null, to: row.activates_at },
          revokePrevious: { from: null, to: options.revokePrevious === true },
        },
      },
      { at: row.created_at },
    ),
  ]);
  table = undefined;
  for (const key of retired?.results ?? []) if (options.revokePrevious) verifyKeys.delete(key.kid);
  return {
    kid: row.kid,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retired: (retired?.results ?? []).map((r) => ({ kid: r.kid, retiresAt: r.retires_at, expiresAt: r.expires_at })),
  };
}

/** Daily: rotate when the newest key is older than ROTATE_AFTER_DAYS; forget keys that left the JWKS. */
export async function rotateSigningKeysIfDue(env: Env): Promise<void> {
  const db = await controlDb(env);
  const now = Date.now();
  await db.prepare("DELETE FROM signing_keys WHERE expires_at <= ?").bind(iso(now)).run();
  const newest = await db
    .prepare("SELECT max(created_at) AS created_at FROM signing_keys WHERE retires_at IS NULL")
    .first<{ created_at: string | null }>();
  // no key yet: the first token creates one
  if (!newest?.created_at) return;
  if (Date.parse(newest.created_at) + ROTATE_AFTER_DAYS * 24 * 60 * 60 * 1000 > now) return;
  await rotateSigningKey(backgroundContext(env, "platform", db, "signing-key-rotation"));
}
