import type { ServiceContext } from "../../core/context";
import {
  forgetActiveDataKey,
  latestDataKeyVersion,
  newDataKeyStatement,
  retireDataKeysBelow,
} from "../../core/crypto/data-keys";
import { controlDb, tenantDatabases } from "../../core/db/databases";
import { loggableError } from "../../core/http/error-handler";
import { auditStatement } from "../audit/audit.service";
import { anyRowBelow, type RekeyProgress, reencryptUsers } from "../users/users.rekey";
import { getTenant } from "./tenants.service";

/** D1 batches (of REKEY_BATCH_ROWS users) one rotate request re-encrypts before it answers; the rest goes on later. */
const REQUEST_BATCHES = 5;
/** D1 batches per tenant per cron run (every minute). */
const CRON_BATCHES = 10;

/**
 * Rotates a tenant's data key (platform scope, admin token): a new active version (audited in the platform trail),
 * then a bounded share of the re-encryption. `newVersion: false` only carries on with the re-encryption.
 * The per-minute cron finishes what requests leave; once no row uses an older version, those are retired.
 */
export async function rotateDataKey(
  ctx: ServiceContext,
  tenantId: string,
  options: { newVersion: boolean },
): Promise<RekeyProgress> {
  const tenant = await getTenant(ctx, tenantId);
  if (options.newVersion) {
    const current = await latestDataKeyVersion(ctx.env, tenantId);
    // two rotations racing compute the same next version: one INSERT wins, the other (and its audit row) is a no-op
    await ctx.db.batch([
      await newDataKeyStatement(ctx.env, ctx.db, tenantId, current + 1),
      await auditStatement(
        ctx,
        {
          action: "tenant.data_key_rotated",
          resource: { type: "tenant", id: tenantId },
          changes: { dataKeyVersion: { from: current === 0 ? null : current, to: current + 1 } },
        },
        { onlyIfPreviousChanged: true },
      ),
    ]);
    forgetActiveDataKey(ctx.env, tenantId);
  }
  return continueRotation(ctx.env, tenant, REQUEST_BATCHES);
}

async function continueRotation(
  env: Env,
  tenant: { id: string; databaseBinding: string },
  maxBatches: number,
): Promise<RekeyProgress> {
  const db = await tenantDatabases.forTenant(env, tenant);
  const progress = await reencryptUsers({ env, db, scope: tenant.id }, maxBatches);
  if (progress.remaining === 0) await retireDataKeysBelow(env, tenant.id, progress.version);
  return progress;
}

interface TenantKeys {
  id: string;
  databaseBinding: string;
  /** The highest key version (null: none yet). */
  active: number | null;
  /** Versions not yet retired. */
  live: number;
}

/**
 * Cron, every minute: carries on every unfinished rotation. A tenant needs work when it has more than one live
 * key version, or when a row is under an older version than the active one (a write from an isolate that had not
 * yet seen a rotation, or a legacy plaintext row): one index probe per tenant decides. One tenant's failure does
 * not stop the others; the run then fails as a whole.
 */
export async function continueDataKeyRotations(env: Env): Promise<void> {
  const { results } = await (await controlDb(env))
    .prepare(
      `SELECT t.id, t.database_binding AS databaseBinding,
         (SELECT max(k.version) FROM tenant_data_keys k WHERE k.tenant_id = t.id) AS active,
         (SELECT count(*) FROM tenant_data_keys k WHERE k.tenant_id = t.id AND k.retired_at IS NULL) AS live
       FROM tenants t ORDER BY t.id`,
    )
    .all<TenantKeys>();
  const failures: unknown[] = [];
  for (const tenant of results) {
    try {
      const db = await tenantDatabases.forTenant(env, tenant);
      const behind = await anyRowBelow({ env, db, scope: tenant.id }, Math.max(tenant.active ?? 0, 1));
      if (tenant.live > 1 || behind) await continueRotation(env, tenant, CRON_BATCHES);
    } catch (error) {
      failures.push(error);
      if (env.LOG_LEVEL !== "silent") {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "data key rotation failed",
            tenantId: tenant.id,
            error: loggableError(error),
          }),
        );
      }
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(failures, `data key rotation failed for ${failures.length} tenant(s)`);
  }
}
