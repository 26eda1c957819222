import { httpActionHooks } from "../../modules/actions/actions.hooks";
import type { RuntimeHookSource } from "./hooks";

/** Hooks registered at run time by tenants, run after the plugins' before-hooks. Each module adds its own here. */
export const RUNTIME_HOOK_SOURCES: readonly RuntimeHookSource[] = [httpActionHooks];
