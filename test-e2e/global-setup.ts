// The Node project's global setup: starts the worker ONCE for every end-to-end test file, as `wrangler dev` would
// run it (workerd, every binding simulated, queues and their consumers included), on 127.0.0.1 with a random port,
// fresh state in a temporary directory and throwaway secrets. Tests reach it over real HTTP (inject("service")) and
// run real servers of their own (receivers, SMTP, an OIDC provider) on 127.0.0.1 for it to call.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { loadWranglerEnv, ROOT, randomBase64, randomHex } from "../scripts/env.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    service: { url: string; adminToken: string };
  }
}

/**
 * Vars of the e2e worker: short delays so retries and caches play out within a test. Features add theirs here.
 * E2E_LOG=info shows the worker's logs.
 */
const VARS: Record<string, string> = {
  LOG_LEVEL: process.env.E2E_LOG ? "info" : "silent",
  CREDENTIAL_CACHE_SECONDS: "1",
  LAST_USED_FLUSH_SECONDS: "1",
  DATABASE_QUARANTINE_SECONDS: "1",
  USAGE_FLUSH_SECONDS: "1",
  PLUGIN_RETRY_SECONDS: "0",
  // webhooks: retries about a second apart (8 of them), so failing and down receivers play out within a test
  WEBHOOK_RETRY_SCHEDULE: "1,1,1,1,1,1,1,1",
  WEBHOOK_TIMEOUT_MS: "3000",
  // notifications (test-e2e/notifications.test.ts): retries at once, three attempts, short SMTP replies
  NOTIFICATION_RETRY_DELAY_SECONDS: "0",
  NOTIFICATION_MAX_ATTEMPTS: "3",
  SMTP_TIMEOUT_MS: "5000",
};

export default async function setup(project: TestProject) {
  loadWranglerEnv();
  const { unstable_startWorker: startWorker } = await import("wrangler");
  const persist = mkdtempSync(join(tmpdir(), "uom-e2e-"));
  const adminToken = `e2e_${randomHex(24)}`;
  const plain = Object.fromEntries(
    Object.entries(VARS).map(([name, value]) => [name, { type: "plain_text" as const, value }]),
  );
  const worker = await startWorker({
    config: join(ROOT, "wrangler.toml"),
    envFiles: [],
    bindings: {
      ...plain,
      ADMIN_TOKEN: { type: "secret_text", value: adminToken },
      MASTER_KEY: { type: "secret_text", value: randomBase64(32) },
    },
    dev: {
      remote: false,
      persist,
      watch: false,
      inspector: false,
      logLevel: process.env.E2E_LOG ? "info" : "error",
      server: { hostname: "127.0.0.1", port: 0 },
    },
  });
  const url = await worker.url;
  project.provide("service", { url: url.origin, adminToken });
  return async () => {
    await worker.dispose();
    rmSync(persist, { recursive: true, force: true });
  };
}
