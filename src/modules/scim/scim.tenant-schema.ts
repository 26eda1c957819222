import type { ServiceContext } from "../../core/context";
import { liveFields } from "../schema/attributes";
import type { TenantSchema } from "../schema/fields.types";
import { tenantSchema } from "../schema/schema.service";

/** The tenant's live custom fields (not those being deleted), for the SCIM extension schema (scim.extension.ts). */
export async function scimTenantSchema(ctx: ServiceContext): Promise<TenantSchema> {
  const schema = await tenantSchema(ctx);
  return { version: schema.version, fields: liveFields(schema) };
}
