import { z } from "@hono/zod-openapi";
import { ApiError } from "../../core/errors";
import { BULK_MAX_OPERATIONS } from "./scim.discovery";
import { ScimErrors, scimError, scimErrorBody } from "./scim.errors";
import * as groups from "./scim.groups.service";
import type { ScimContext } from "./scim.http";
import { URN } from "./scim.urns";
import type { ScimDoc } from "./scim.users.mapping";
import * as users from "./scim.users.service";

/**
 * RFC 7644 §3.7 Bulk: operations on Users and Groups in one request, each run like its own request (through the
 * same services, so each is validated, audited and committed on its own: a bulk request is not atomic, as the
 * RFC has it). `bulkId:<id>` in a later operation's path or data is replaced by the id the POST that declared
 * that bulkId created; an operation that refers to one not yet created waits for it, so the order in the
 * request does not matter, and what can never be resolved (circular, unknown, failed) answers 409.
 * `failOnErrors`: stop after that many errors; the operations not run are left out of the response.
 */

const OperationSchema = z.object({
  method: z.string(),
  bulkId: z.string().max(200).optional(),
  version: z.string().max(200).optional(),
  path: z.string().max(1000),
  data: z.unknown().optional(),
});

const BulkRequestSchema = z.object({
  schemas: z.array(z.string()),
  failOnErrors: z.number().int().min(1).optional(),
  Operations: z.array(z.unknown()),
});

type Operation = z.infer<typeof OperationSchema>;

interface Result {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

const REFERENCE = /bulkId:([^"/\s?]+)/g;

function referencesOf(operation: Operation): string[] {
  const text = JSON.stringify([operation.path, operation.data ?? null]);
  return [...text.matchAll(REFERENCE)].map((m) => m[1] as string);
}

function resolve(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  return JSON.parse(JSON.stringify(value ?? null).replace(REFERENCE, (_, id: string) => ids.get(id) ?? `bulkId:${id}`));
}

function lowered(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
}

export async function runBulk(ctx: ScimContext, body: Record<string, unknown>): Promise<ScimDoc> {
  const fields = lowered(body);
  const parsed = BulkRequestSchema.safeParse({
    schemas: fields.schemas,
    failOnErrors: fields.failonerrors,
    Operations: fields.operations,
  });
  if (!parsed.success || !parsed.data.schemas.includes(URN.bulkRequest)) {
    throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, `A BulkRequest needs schemas [${URN.bulkRequest}] and Operations.`);
  }
  if (parsed.data.Operations.length > BULK_MAX_OPERATIONS) {
    throw scimError(
      ScimErrors.SCIM_BULK_TOO_LARGE,
      `The bulk request has ${parsed.data.Operations.length} operations; maxOperations is ${BULK_MAX_OPERATIONS}.`,
    );
  }
  const failOnErrors = parsed.data.failOnErrors ?? Number.POSITIVE_INFINITY;
  const results = new Map<number, Result>();
  const created = new Map<string, string>();
  const declared = new Set<string>();
  const failedIds = new Set<string>();
  let errors = 0;
  const pending = parsed.data.Operations.map((raw, index) => ({ raw, index }));
  for (const { raw } of pending) {
    const op = OperationSchema.safeParse(raw);
    if (op.success && op.data.bulkId) declared.add(op.data.bulkId);
  }

  const record = (index: number, result: Result) => {
    results.set(index, result);
    if (Number(result.status) >= 400) errors++;
  };

  let progressed = true;
  while (pending.length > 0 && progressed && errors < failOnErrors) {
    progressed = false;
    for (let i = 0; i < pending.length && errors < failOnErrors; ) {
      const { raw, index } = pending[i] as { raw: unknown; index: number };
      const op = OperationSchema.safeParse(raw);
      if (!op.success) {
        record(
          index,
          failure("?", undefined, scimError(ScimErrors.SCIM_INVALID_SYNTAX, "An operation needs method and path.")),
        );
        pending.splice(i, 1);
        progressed = true;
        continue;
      }
      const references = referencesOf(op.data);
      const broken = references.find((id) => failedIds.has(id) || !declared.has(id));
      if (broken === undefined && references.some((id) => !created.has(id))) {
        i++;
        continue;
      }
      pending.splice(i, 1);
      progressed = true;
      const result =
        broken !== undefined
          ? failure(
              op.data.method,
              op.data.bulkId,
              new ApiError(ScimErrors.SCIM_BULK_UNRESOLVED, {
                detail: `bulkId:${broken} refers to no created resource.`,
              }),
            )
          : await runOne(ctx, op.data, created);
      if (Number(result.status) >= 400 && op.data.bulkId) failedIds.add(op.data.bulkId);
      record(index, result);
    }
  }
  // what is left waits on a reference that can never resolve (circular), unless failOnErrors stopped the run
  if (errors < failOnErrors) {
    for (const { raw, index } of pending) {
      const op = OperationSchema.parse(raw);
      const detail = "Its bulkId references could not be resolved (circular references).";
      record(index, failure(op.method, op.bulkId, new ApiError(ScimErrors.SCIM_BULK_UNRESOLVED, { detail })));
    }
  }
  return {
    schemas: [URN.bulkResponse],
    Operations: [...results.entries()].sort(([a], [b]) => a - b).map(([, result]) => result),
  };
}

function failure(method: string, bulkId: string | undefined, error: ApiError): Result {
  return {
    method,
    ...(bulkId ? { bulkId } : {}),
    status: String(error.status),
    response: scimErrorBody(error),
  };
}

const RESOURCE = /^\/(Users|Groups)(?:\/([^/]+))?$/;

async function runOne(ctx: ScimContext, operation: Operation, created: Map<string, string>): Promise<Result> {
  const method = operation.method.toUpperCase();
  try {
    const path = resolve(operation.path, created) as string;
    const data = resolve(operation.data, created);
    const match = RESOURCE.exec(path);
    if (!match) throw scimError(ScimErrors.SCIM_INVALID_PATH, `Bulk operations act on /Users or /Groups, not ${path}.`);
    const [, type, id] = match as unknown as [string, "Users" | "Groups", string | undefined];
    const body = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    const ifMatch = operation.version;
    const done = await dispatch(ctx, method, type, id, body, ifMatch);
    if (method === "POST" && operation.bulkId && done) created.set(operation.bulkId, String(done.doc.id));
    return {
      method,
      ...(operation.bulkId ? { bulkId: operation.bulkId } : {}),
      ...(done ? { version: done.etag, location: String((done.doc.meta as { location: string }).location) } : {}),
      status: method === "POST" ? "201" : method === "DELETE" ? "204" : "200",
    };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return failure(method, operation.bulkId, error);
  }
}

async function dispatch(
  ctx: ScimContext,
  method: string,
  type: "Users" | "Groups",
  id: string | undefined,
  body: Record<string, unknown>,
  ifMatch: string | undefined,
): Promise<{ doc: ScimDoc; etag: string } | null> {
  if (method === "POST" && id === undefined) {
    return type === "Users" ? users.createScimUser(ctx, body) : groups.createScimGroup(ctx, body);
  }
  if (id === undefined || method === "POST") {
    throw scimError(
      ScimErrors.SCIM_INVALID_PATH,
      `${method} needs ${method === "POST" ? "no id" : "an id"} in the path.`,
    );
  }
  switch (method) {
    case "PUT":
      return type === "Users"
        ? users.replaceScimUser(ctx, id, body, ifMatch)
        : groups.replaceScimGroup(ctx, id, body, ifMatch);
    case "PATCH":
      return type === "Users"
        ? users.patchScimUser(ctx, id, body, ifMatch)
        : groups.patchScimGroup(ctx, id, body, ifMatch);
    case "DELETE":
      if (type === "Users") await users.deleteScimUser(ctx, id, ifMatch);
      else await groups.deleteScimGroup(ctx, id, ifMatch);
      return null;
    default:
      throw scimError(ScimErrors.SCIM_INVALID_SYNTAX, `Unknown bulk method ${method}.`);
  }
}
