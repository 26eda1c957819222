import { ApiError, CoreErrors, defineErrors } from "../errors";

export const PluginErrors = defineErrors({
  PLUGIN_NOT_FOUND: { status: 404, title: "No such plugin" },
  PLUGIN_NOT_ENABLED: { status: 403, title: "The plugin is not enabled for this tenant" },
  HOOK_REJECTED: { status: 403, title: "A plugin refused the operation" },
  PLUGIN_HOOK_FAILED: { status: 500, title: "A plugin's hook failed" },
  PLUGIN_UPSTREAM_FAILED: { status: 502, title: "A service the plugin calls failed" },
});

const BY_STATUS = {
  400: CoreErrors.BAD_REQUEST,
  404: CoreErrors.NOT_FOUND,
  409: CoreErrors.CONFLICT,
  502: PluginErrors.PLUGIN_UPSTREAM_FAILED,
} as const;

/** A problem a plugin's route answers with (thrown from its handler): 400, 404, 409 or 502 with this detail. */
export function pluginProblem(status: keyof typeof BY_STATUS, detail: string): ApiError {
  return new ApiError(BY_STATUS[status], { detail });
}

/**
 * What a before-hook throws to refuse the operation: 403 HOOK_REJECTED with this detail, naming the plugin; nothing
 * is written.
 */
export function rejectOperation(detail: string): ApiError {
  return new ApiError(PluginErrors.HOOK_REJECTED, { detail });
}
