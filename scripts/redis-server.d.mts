// Types of scripts/redis-server.mjs for the TypeScript that imports it (test/global-setup.ts, test-e2e).
export function startRedis(): Promise<{ port: number; close(): Promise<void> }>;
