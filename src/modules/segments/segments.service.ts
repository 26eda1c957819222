import type { ServiceContext } from "../../core/context";
import { uniqueViolation } from "../../core/db/statements";
import { ApiError, CoreErrors } from "../../core/errors";
import { assertIfMatch, etagOf } from "../../core/http/etag";
import { auditStatement } from "../audit/audit.service";
import { diffChanges } from "../audit/audit-changes";
import { fieldCatalogue } from "../schema/fields.catalogue";
import { tenantSchema } from "../schema/schema.service";
import { D1_MAX_PARAMS } from "../search/filter.compiler";
import { type FilterNode, walkFilter } from "../search/filter.parser";
import { assertFilterReadable } from "../users/users.fields-access";
import { compileUserFilter, parseUserFilter } from "../users/users.filter";
import { listUsers, type UserListQuery } from "../users/users.service";
import { SegmentErrors } from "./segments.errors";
import { invalidSegmentFilter, isSegmentLeaf, segmentFilter } from "./segments.filter";
import { learnedSegments, learningState } from "./segments.learned";
import {
  deleteSavedRow,
  findSavedRow,
  insertSavedWithinLimit,
  listSavedRows,
  type SavedSegmentRow,
  updateSavedRow,
} from "./segments.repo";
import {
  type CreateSegmentInput,
  LEARNED_PREFIX,
  MAX_SAVED_SEGMENTS,
  type Segment,
  type SegmentPatch,
} from "./segments.schema";

/** Saved segments: CRUD with audit rows, live counts; and the audience helper for other modules (docs/segments.md). */

export interface VersionedSegment {
  segment: Segment;
  etag: string;
}

function toSegment(row: SavedSegmentRow, count: number | null): Segment {
  return {
    name: row.name,
    kind: "saved",
    description: row.description,
    filter: row.filter,
    count,
    size: null,
    centroid: null,
    silhouette: null,
    trainedAt: null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function segmentNotFound(name: string): ApiError {
  return new ApiError(SegmentErrors.SEGMENT_NOT_FOUND, { detail: `No segment ${JSON.stringify(name)}.` });
}

/** Sealed (encrypted) fields: a filter on them would keep their values in plaintext in the segments table. */
async function assertNoSealedFields(ctx: ServiceContext, tree: FilterNode): Promise<void> {
  const schema = await tenantSchema(ctx);
  const sealed = new Set(["email", "phone"]);
  for (const field of schema.fields) if (field.pii) sealed.add(`attributes.${field.name.toLowerCase()}`);
  walkFilter(tree, (node) => {
    if (node.type !== "compare" && node.type !== "present") return;
    const path = node.attribute.toLowerCase();
    if (node.type === "compare" && sealed.has(path) && node.value !== null) {
      throw invalidSegmentFilter(
        `A segment's filter is stored as written, so it may not compare "${node.attribute}" (personal data, stored encrypted) with a value; "pr" is allowed`,
        { attribute: node.attribute },
      );
    }
  });
}

/**
 * A segment's filter is checked as GET /v1/users checks one: it parses, the caller may read every field it names,
 * and it compiles against this tenant's fields; besides, it names no other segment (no recursion).
 */
async function validateFilter(ctx: ServiceContext, text: string): Promise<void> {
  const tree = parseUserFilter(text);
  walkFilter(tree, (node) => {
    if (isSegmentLeaf(node)) throw invalidSegmentFilter("A segment's filter cannot name another segment");
  });
  await assertFilterReadable(ctx, tree);
  await assertNoSealedFields(ctx, tree);
  await compiled(ctx, tree);
}

async function compiled(ctx: ServiceContext, tree: FilterNode) {
  const attributes = await fieldCatalogue(ctx, await tenantSchema(ctx), tree);
  return compileUserFilter(ctx, tree, { attributes, now: Date.now(), maxParams: D1_MAX_PARAMS - 1 });
}

/**
 * Live users a saved segment matches now; null when its filter no longer compiles (a field it names was deleted), or
 * names a field the caller may not read (a count would tell about its values).
 */
async function countStatement(ctx: ServiceContext, filter: string): Promise<D1PreparedStatement | null> {
  try {
    const tree = parseUserFilter(filter);
    await assertFilterReadable(ctx, tree);
    const { sql, params } = await compiled(ctx, tree);
    return ctx.db
      .prepare(`SELECT count(*) AS n FROM users WHERE users.status <> 'deleted' AND (${sql})`)
      .bind(...params);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 403)) return null;
    throw error;
  }
}

/** One COUNT per saved segment, all in one batch (one round trip). */
async function counts(ctx: ServiceContext, rows: readonly SavedSegmentRow[]): Promise<(number | null)[]> {
  const statements = await Promise.all(rows.map((row) => countStatement(ctx, row.filter)));
  const runnable = statements.filter((s): s is D1PreparedStatement => s !== null);
  const results = runnable.length > 0 ? await ctx.db.batch<{ n: number }>(runnable) : [];
  let next = 0;
  return statements.map((s) => (s === null ? null : (results[next++]?.results[0]?.n ?? 0)));
}

export async function listSegments(ctx: ServiceContext, query: { counts: boolean }) {
  const rows = await listSavedRows(ctx.db);
  const live = query.counts ? await counts(ctx, rows) : rows.map(() => null);
  const saved = rows.map((row, i) => toSegment(row, live[i] ?? null));
  const learned = await learnedSegments(ctx.db, query.counts);
  return { data: [...saved, ...learned], learning: await learningState(ctx.db) };
}

export async function getSegment(ctx: ServiceContext, name: string): Promise<VersionedSegment> {
  if (name.startsWith(LEARNED_PREFIX)) {
    const [learned] = await learnedSegments(ctx.db, true, name);
    if (!learned) throw segmentNotFound(name);
    return { segment: learned, etag: `"t${Date.parse(learned.trainedAt ?? "")}"` };
  }
  const row = await findSavedRow(ctx.db, name);
  if (!row) throw segmentNotFound(name);
  const [count] = await counts(ctx, [row]);
  return { segment: toSegment(row, count ?? null), etag: etagOf(row.version) };
}

function audited(row: SavedSegmentRow) {
  return { description: row.description, filter: row.filter };
}

export async function createSegment(ctx: ServiceContext, input: CreateSegmentInput): Promise<VersionedSegment> {
  await validateFilter(ctx, input.filter);
  const at = new Date().toISOString();
  const row: SavedSegmentRow = {
    name: input.name,
    description: input.description || null,
    filter: input.filter,
    created_at: at,
    updated_at: at,
    version: 1,
  };
  let inserted: D1Result | undefined;
  try {
    [inserted] = await ctx.db.batch([
      insertSavedWithinLimit(ctx.db, row, MAX_SAVED_SEGMENTS),
      await auditStatement(
        ctx,
        {
          action: "segment.created",
          resource: { type: "segment", id: row.name },
          changes: diffChanges(null, audited(row)),
        },
        { at, onlyIfPreviousChanged: true },
      ),
    ]);
  } catch (error) {
    if (uniqueViolation(error) === undefined) throw error;
    throw new ApiError(SegmentErrors.SEGMENT_EXISTS, { detail: `A segment named ${JSON.stringify(row.name)} exists.` });
  }
  if (!inserted?.meta.changes) {
    throw new ApiError(SegmentErrors.SEGMENT_LIMIT_REACHED, {
      detail: `A tenant keeps at most ${MAX_SAVED_SEGMENTS} saved segments; delete one first.`,
    });
  }
  const [count] = await counts(ctx, [row]);
  return { segment: toSegment(row, count ?? null), etag: etagOf(1) };
}

function assertSaved(name: string): void {
  if (name.startsWith(LEARNED_PREFIX)) {
    throw new ApiError(SegmentErrors.LEARNED_SEGMENT_READ_ONLY, {
      detail: "Learned segments change only by retraining (POST /v1/segments/learned/retrain).",
    });
  }
}

function changedMeanwhile(name: string, ifMatch: string | undefined): ApiError {
  return ifMatch
    ? new ApiError(CoreErrors.PRECONDITION_FAILED, { detail: `Segment ${name} changed meanwhile; read it again.` })
    : new ApiError(CoreErrors.CONFLICT, { detail: `Segment ${name} changed meanwhile; try again.` });
}

export async function updateSegment(
  ctx: ServiceContext,
  name: string,
  patch: SegmentPatch,
  ifMatch: string | undefined,
): Promise<VersionedSegment> {
  assertSaved(name);
  const current = await findSavedRow(ctx.db, name);
  if (!current) throw segmentNotFound(name);
  assertIfMatch(ifMatch, etagOf(current.version));
  if (patch.filter !== undefined) await validateFilter(ctx, patch.filter);
  const next: SavedSegmentRow = {
    ...current,
    description: patch.description === undefined ? current.description : patch.description || null,
    filter: patch.filter ?? current.filter,
    updated_at: new Date().toISOString(),
  };
  const changes = diffChanges(audited(current), audited(next));
  if (Object.keys(changes).length === 0) return getSegment(ctx, name);
  const [updated] = await ctx.db.batch([
    updateSavedRow(ctx.db, next, current.version),
    await auditStatement(
      ctx,
      { action: "segment.updated", resource: { type: "segment", id: name }, changes },
      { at: next.updated_at, onlyIfPreviousChanged: true },
    ),
  ]);
  if (!updated?.meta.changes) throw changedMeanwhile(name, ifMatch);
  const [count] = await counts(ctx, [next]);
  return { segment: toSegment(next, count ?? null), etag: etagOf(current.version + 1) };
}

export async function deleteSegment(ctx: ServiceContext, name: string, ifMatch: string | undefined): Promise<void> {
  assertSaved(name);
  const current = await findSavedRow(ctx.db, name);
  if (!current) throw segmentNotFound(name);
  assertIfMatch(ifMatch, etagOf(current.version));
  const [deleted] = await ctx.db.batch([
    deleteSavedRow(ctx.db, name, current.version),
    await auditStatement(
      ctx,
      {
        action: "segment.deleted",
        resource: { type: "segment", id: name },
        changes: diffChanges(audited(current), null),
      },
      { onlyIfPreviousChanged: true },
    ),
  ]);
  if (!deleted?.meta.changes) throw changedMeanwhile(name, ifMatch);
}

/**
 * A segment as an audience (reports, notifications): a page of its live users, as GET /v1/users?filter=segment eq
 * "<name>" answers it, with the same field permissions. 400 INVALID_FILTER for an unknown segment.
 */
export function usersInSegment(
  ctx: ServiceContext,
  name: string,
  page: { limit: number; cursor?: string | undefined },
): ReturnType<typeof listUsers> {
  const query: UserListQuery = { ...page, includeDeleted: false, filter: segmentFilter(name) };
  return listUsers(ctx, query);
}
