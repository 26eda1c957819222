import type { ServiceContext } from "../../core/context";
import { fromDriverRow } from "../../core/db/driver-rows";
import { type UserRow, users } from "../../core/db/tenant-schema";
import { readSchema } from "../schema/schema.service";
import { openUserRow } from "./users.pii";

/**
 * User profiles read through the `CACHE` KV namespace (docs/caching.md), so `GET /v1/users/{id}` needs no D1 query
 * when the profile is cached. What is cached is the row as D1 stores it — email, phone and `pii` fields sealed under
 * the tenant's data key, without the password hash — never plaintext.
 *
 * Keys are versioned: `user:v1:<tenant>:s<schema version>:<user>`. A schema change moves readers to new keys (an
 * attribute renamed or dropped by a schema job never shows from an old entry), and no entry is written while a
 * schema job is open. Every write of a user deletes its entry before it answers, and this isolate remembers the
 * write, so an entry older than it is never served here even before KV has caught up: a read after a write on the
 * same path is never stale. Other isolates follow within CREDENTIAL_CACHE_SECONDS (the schema they read by).
 *
 * In front of KV, each isolate keeps the profiles it opened for PROFILE_ISOLATE_MS: a hot profile then costs neither
 * a KV read nor its decryption. It is dropped by this isolate's writes like the KV entry; another isolate's write
 * shows here within that time — well within what KV itself takes to reach every location.
 */
const TTL_SECONDS = 3_600;
/** How long this isolate distrusts entries cached before one of its writes (KV's own propagation time). */
const WRITE_MEMORY_MS = 60_000;
const MAX_WRITES = 10_000;
/** Longer than a read takes from its D1 query to its KV put. */
const RACE_MS = 2_000;

interface Entry {
  cachedAt: number;
  row: Record<string, unknown>;
}

const recentWrites = new Map<string, number>();

const PROFILE_ISOLATE_MS = 2_000;
const MAX_PROFILES = 10_000;

interface Opened {
  schemaVersion: number;
  row: UserRow;
  until: number;
}

/** Opened profiles by `<tenant>:<user>` (personal data in this isolate's memory only, never stored). */
const opened = new Map<string, Opened>();

/** Keeps a profile this read opened — unless a write of this isolate came while it was being read. */
function keep(name: string, schemaVersion: number, row: UserRow, readStartedAt: number): UserRow {
  if ((recentWrites.get(name) ?? 0) >= readStartedAt) return row;
  if (opened.size >= MAX_PROFILES) opened.delete(opened.keys().next().value as string);
  opened.set(name, { schemaVersion, row, until: Date.now() + PROFILE_ISOLATE_MS });
  return row;
}

const keyOf = (tenantId: string, schemaVersion: number, userId: string) =>
  `user:v1:${tenantId}:s${schemaVersion}:${userId}`;

/** The user, its personal data opened: from the cache, else from D1 (and then cached). */
export async function readCachedUser(ctx: ServiceContext, id: string): Promise<UserRow | undefined> {
  const startedAt = Date.now();
  const schema = await readSchema(ctx);
  const name = `${ctx.scope}:${id}`;
  const hot = opened.get(name);
  if (hot && hot.until > Date.now() && hot.schemaVersion === schema.version) return hot.row;
  const key = keyOf(ctx.scope, schema.version, id);
  const entry = await ctx.env.CACHE.get<Entry>(key, "json");
  const writtenAt = recentWrites.get(name);
  if (entry && (writtenAt === undefined || entry.cachedAt > writtenAt)) {
    return keep(name, schema.version, await openUserRow(ctx, fromDriverRow(users, entry.row)), startedAt);
  }
  const cachedAt = Date.now();
  const raw = await ctx.db.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<Record<string, unknown>>();
  if (!raw) return undefined;
  if (schema.jobs.length === 0) {
    const row = { ...raw, password_hash: null };
    ctx.waitUntil(ctx.env.CACHE.put(key, JSON.stringify({ cachedAt, row }), { expirationTtl: TTL_SECONDS }));
  }
  return keep(name, schema.version, await openUserRow(ctx, fromDriverRow(users, raw)), startedAt);
}

/** After a write of these users: their entries go, and this isolate serves none cached before now. */
export async function forgetCachedUsers(ctx: ServiceContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const now = Date.now();
  for (const id of ids) {
    const name = `${ctx.scope}:${id}`;
    opened.delete(name);
    recentWrites.delete(name);
    recentWrites.set(name, now);
  }
  while (recentWrites.size > MAX_WRITES) recentWrites.delete(recentWrites.keys().next().value as string);
  for (const [name, at] of recentWrites) {
    if (at > now - WRITE_MEMORY_MS) break;
    recentWrites.delete(name);
  }
  const { version } = await readSchema(ctx);
  const keys = ids.map((id) => keyOf(ctx.scope, version, id));
  await Promise.all(keys.map((key) => ctx.env.CACHE.delete(key)));
  // a read that fetched the old row just before this write may put it back just after: delete once more later
  ctx.waitUntil(
    new Promise((resolve) => setTimeout(resolve, RACE_MS)).then(() =>
      Promise.all(keys.map((key) => ctx.env.CACHE.delete(key))),
    ),
  );
}
