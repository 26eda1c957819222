import type { FieldError } from "../errors";
import { accountChain } from "./account";
import { type CustomRoles, isKnownRole, NO_CUSTOM_ROLES } from "./permissions";

/**
 * Role assignments: what a user's or an API key's `roles` list holds. An entry is a role name (`manager`), which
 * applies in the tenant the user or key belongs to, or a role scoped to one of that tenant's sub-accounts
 * (`manager@ten_…`), which applies only when the credential acts on that sub-account, or on a sub-account below it,
 * with the `Uom-Account` header (core/auth/account.ts). A scoped entry grants nothing in the tenant itself.
 * This file is the one place that reads the `role@account` syntax.
 */

/** One entry of a roles list: the role, and the sub-account it is scoped to (null: the tenant itself). */
export interface Assignment {
  role: string;
  account: string | null;
}

const ROLE = "[a-z][a-z0-9_-]{0,63}";
const ACCOUNT = "[A-Za-z0-9_-]{1,64}";

/** The syntax of a roles-list entry, for request schemas: a role name, optionally `@<sub-account id>`. */
export const ASSIGNMENT_PATTERN = new RegExp(`^${ROLE}(@${ACCOUNT})?$`);
export const ASSIGNMENT_SYNTAX =
  "A role name (lower-case letters, digits, '_' and '-', starting with a letter), optionally followed by " +
  "'@' and the id of a sub-account it is scoped to (`manager@ten_…`).";

export function parseAssignment(entry: string): Assignment {
  const at = entry.indexOf("@");
  return at < 0 ? { role: entry, account: null } : { role: entry.slice(0, at), account: entry.slice(at + 1) };
}

export function isScoped(entry: string): boolean {
  return entry.includes("@");
}

/** The entries scoped to a sub-account, with their index in the list (for `roles.<i>` field errors). */
export function scopedAssignments(roles: readonly string[]): (Assignment & { account: string; index: number })[] {
  const scoped: (Assignment & { account: string; index: number })[] = [];
  roles.forEach((entry, index) => {
    const { role, account } = parseAssignment(entry);
    if (account !== null) scoped.push({ role, account, index });
  });
  return scoped;
}

/**
 * Checks the assignments scoped to sub-accounts among `roles` (only those `isNew` says are being given: one
 * already held stays, even if its account has gone since): each role must be known in the tenant (built in, or
 * one of `custom`), each account a strict descendant of the tenant. Field errors `<field>.<i>` (`unknown_role`,
 * `unknown_account`), empty when all is well. Looking the accounts up also caches their chains, which the
 * escalation check (permissions.ts rolesBeyond with ServiceContext.accountRights) then reads without a query.
 */
export async function scopedAssignmentErrors(
  env: Env,
  tenantId: string,
  roles: readonly string[],
  options: { isNew?: (entry: string) => boolean; custom?: CustomRoles; field?: string } = {},
): Promise<FieldError[]> {
  const { isNew = () => true, custom = NO_CUSTOM_ROLES, field = "roles" } = options;
  const scoped = scopedAssignments(roles).filter((a) => isNew(roles[a.index] as string));
  const chains = await Promise.all(scoped.map((a) => accountChain(env, a.account)));
  const errors: FieldError[] = [];
  scoped.forEach(({ role, account, index }, i) => {
    if (!isKnownRole(role, custom)) {
      errors.push({ field: `${field}.${index}`, code: "unknown_role", detail: `No role '${role}'.` });
      return;
    }
    const chain = chains[i];
    if (!chain?.ancestors.includes(tenantId)) {
      errors.push({
        field: `${field}.${index}`,
        code: "unknown_account",
        detail: `'${account}' is not a sub-account of this tenant: a role can be scoped only to one.`,
      });
    }
  });
  return errors;
}
