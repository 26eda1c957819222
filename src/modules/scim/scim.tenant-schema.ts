import type { ServiceContext } from "../../core/context";
import type { TenantSchema } from "../schema/fields.types";

/**
 * The tenant's custom fields, for the SCIM extension schema (scim.extension.ts).
 *
 * MERGE: the one call site of the schema module. When `tenantSchema(ctx)` lands in
 * src/modules/schema/schema.service.ts, replace the body with `return tenantSchema(ctx);`. Until then a tenant
 * has no custom fields as far as SCIM can tell: the extension schema is served with no attributes, and an
 * extension value in a request is refused as an unknown attribute.
 */
export async function scimTenantSchema(_ctx: ServiceContext): Promise<TenantSchema> {
  return { version: 0, fields: [] };
}
