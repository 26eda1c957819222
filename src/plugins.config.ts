import { crmSync } from "../plugins/crm-sync";
import { oidcLogin } from "../plugins/oidc-login";
import type { AnyPlugin } from "./core/plugins/define";

/**
 * The one registration file of compile-time plugins (docs/plugins.md). Order matters: before-hooks run in this order.
 * Each tenant enables the ones it wants (PUT /v1/plugins/{id}).
 */
export const PLUGINS: readonly AnyPlugin[] = [crmSync, oidcLogin];
