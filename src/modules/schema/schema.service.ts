import type { ServiceContext } from "../../core/context";
import { ApiError } from "../../core/errors";
import { SchemaErrors } from "./schema.errors";
import {
  isSchemaGuardFailure,
  type LoadedSchema,
  loadSchema,
  schemaFromResults,
  schemaGuardStatements,
  schemaQueries,
} from "./schema.repo";

/** What loading the schema needs: the tenant's database (the context object also keys the per-request memo). */
export type SchemaStore = Pick<ServiceContext, "db">;

const perRequest = new WeakMap<object, Promise<LoadedSchema>>();

/**
 * The tenant's custom-field schema, read once per request (or job step): one D1 round trip of three small
 * queries. Not cached across requests, so a write is always validated against the schema as it is now, and the
 * write batch asserts that version (`assertSchemaVersion`) so a schema change in between fails it.
 */
export function tenantSchema(store: SchemaStore): Promise<LoadedSchema> {
  let schema = perRequest.get(store);
  if (!schema) {
    schema = loadSchema(store.db);
    perRequest.set(store, schema);
    schema.catch(() => perRequest.delete(store));
  }
  return schema;
}

interface ReadSchema {
  schema: Promise<LoadedSchema>;
  until: number;
}

/** Schemas for reads served from the profile cache (users.cache.ts), per tenant. */
const forReads = new Map<string, ReadSchema>();
const MAX_READ_SCHEMAS = 10_000;

/**
 * The schema for a read that may be served without D1 (a cached profile): kept in the isolate for
 * CREDENTIAL_CACHE_SECONDS, like a credential, and dropped at once when this isolate changes it. Writes never use
 * it: they validate against `tenantSchema`, fresh from D1 and asserted in their batch.
 */
export function readSchema(store: SchemaStore & Pick<ServiceContext, "env" | "scope">): Promise<LoadedSchema> {
  const known = perRequest.get(store);
  if (known) return known;
  const now = Date.now();
  const hit = forReads.get(store.scope);
  if (hit && hit.until > now) {
    perRequest.set(store, hit.schema);
    return hit.schema;
  }
  if (forReads.size >= MAX_READ_SCHEMAS) forReads.delete(forReads.keys().next().value as string);
  const schema = tenantSchema(store);
  forReads.set(store.scope, { schema, until: now + Number(store.env.CREDENTIAL_CACHE_SECONDS ?? 10) * 1000 });
  schema.catch(() => forReads.delete(store.scope));
  return schema;
}

/**
 * Runs `statements` and, in the same D1 round trip, loads the schema for this request unless it has it already:
 * a read of a user needs the schema to present its attributes, and this saves it a round trip of its own.
 */
export async function batchWithSchema(store: SchemaStore, statements: D1PreparedStatement[]): Promise<D1Result[]> {
  if (perRequest.has(store)) return store.db.batch(statements);
  const results = await store.db.batch([...statements, ...schemaQueries(store.db)]);
  perRequest.set(store, Promise.resolve(schemaFromResults(results.slice(statements.length))));
  return results.slice(0, statements.length);
}

/** After this request changed the schema, later reads in it (and in this isolate) must not see the old one. */
export function forgetSchema(store: SchemaStore & Pick<ServiceContext, "scope">): void {
  perRequest.delete(store);
  forReads.delete(store.scope);
}

/**
 * The statements a user write ends its batch with: they fail it when the schema is no longer the version the
 * write was validated against (a field became required or changed type in between).
 */
export async function schemaGuard(store: SchemaStore): Promise<D1PreparedStatement[]> {
  return schemaGuardStatements(store.db, (await tenantSchema(store)).version);
}

/** The problem for a write whose schema guard failed; undefined for any other error. */
export function schemaChanged(error: unknown): ApiError | undefined {
  if (!isSchemaGuardFailure(error)) return undefined;
  return new ApiError(SchemaErrors.SCHEMA_CHANGED, {
    detail: "A custom field changed while this write was validated; nothing was written. Send it again.",
    cause: error,
  });
}
