import { existsSync, readdirSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** Test-only secrets (the worker reads them as it would read `wrangler secret`s). */
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
const TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LTAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes, base64

/**
 * The workers project's files: each directory's `<dir>.suite.ts`, which runs the directory's `*.test.ts` as one file
 * (test/helpers/suite.ts), and the `*.isolated.test.ts` files one by one: those that change what the whole platform
 * shares (the signing keys, the database pool) or walk every route (minutes each; two run side by side). A directory
 * with tests but no suite file would never run them: refuse to start instead.
 */
for (const dir of readdirSync("test", { withFileTypes: true })) {
  if (!dir.isDirectory()) continue;
  const shared = readdirSync(`test/${dir.name}`).some(
    (f) => f.endsWith(".test.ts") && !f.endsWith(".isolated.test.ts"),
  );
  if (shared && !existsSync(`test/${dir.name}/${dir.name}.suite.ts`)) {
    throw new Error(`test/${dir.name} has tests but no test/${dir.name}/${dir.name}.suite.ts: they would never run`);
  }
}

/**
 * Two projects, both run by `npm test`:
 * - `workers` (test/): each file inside real workerd with its own storage (@cloudflare/vitest-pool-workers);
 * - `e2e` (test-e2e/): Node, against the worker started once by wrangler's `unstable_startWorker`, for tests that need
 *   real servers outside the worker (HTTP receivers, SMTP, an OIDC provider) — see test-e2e/README.md.
 */
export default defineConfig({
  test: {
    // vitest's default is one worker fewer than the cores: one on CI's two. Each test file has its own storage
    // and much of the time goes into loading modules into workerd, so two files side by side nearly halve the run.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        plugins: [
          {
            // wrangler imports .sql as text by default; give the test bundle the same rule.
            name: "sql-as-text",
            transform(code, id) {
              return id.endsWith(".sql") ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
            },
          },
          {
            // the workers project registers the test plugins beside the first-party ones (test/plugins/README.md):
            // compile time, as in production, through its own registration file
            name: "test-plugins",
            enforce: "pre",
            async resolveId(source, importer) {
              if (!importer || !/(^|\/)plugins\.config(\.ts)?$/.test(source)) return null;
              const resolved = await this.resolve(source, importer, { skipSelf: true });
              return resolved?.id.endsWith("/src/plugins.config.ts")
                ? resolved.id.replace(/src\/plugins\.config\.ts$/, "test/plugins/plugins.config.ts")
                : null;
            },
          },
          cloudflareTest({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: TEST_ADMIN_TOKEN,
                MASTER_KEY: TEST_MASTER_KEY,
                LOG_LEVEL: "silent",
                CREDENTIAL_CACHE_SECONDS: "1",
                LAST_USED_FLUSH_SECONDS: "1",
                DATABASE_QUARANTINE_SECONDS: "1",
                USAGE_FLUSH_SECONDS: "1",
                PLUGIN_RETRY_SECONDS: "0",
                // a receiver that does not answer (a fixture's unreachable URL) holds a delivery this long at most
                WEBHOOK_TIMEOUT_MS: "2000",
                // notifications: retries at once, two attempts, a short SMTP timeout (test/notifications)
                NOTIFICATION_RETRY_DELAY_SECONDS: "0",
                NOTIFICATION_MAX_ATTEMPTS: "2",
                SMTP_TIMEOUT_MS: "2000",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/*/*.suite.ts", "test/*/*.isolated.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          // every test file loads the worker anew; pre-bundled dependencies are a few modules instead of hundreds.
          // Every entry point the code imports must be listed, or two copies of a class (hono's HTTPException)
          // break instanceof checks.
          deps: {
            optimizer: {
              ssr: {
                enabled: true,
                include: [
                  "hono",
                  "hono/body-limit",
                  "hono/secure-headers",
                  "hono/route",
                  "hono/http-exception",
                  "hono/utils/http-status",
                  "@hono/zod-openapi",
                  "@hono/zod-validator",
                  "zod",
                  "drizzle-orm",
                  "drizzle-orm/d1",
                  "drizzle-orm/sqlite-core",
                  "drizzle-orm/errors",
                  "jose",
                  "re2js",
                  "regjsparser",
                  "uqr",
                ],
              },
            },
          },
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test-e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test-e2e/global-setup.ts"],
          // the worker is one process for every file: files may run side by side, tests in a file one by one
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
