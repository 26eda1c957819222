// Writes the OpenAPI document the worker serves (GET /v1/openapi.json) to .openapi/openapi.json, for
// `npm run openapi:lint`. The worker runs locally in workerd through wrangler's programmatic API: no
// account, no network, nothing persisted. OPENAPI_EXPORT_LOG=info (or debug) shows wrangler's and the worker's logs.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadWranglerEnv, ROOT, randomBase64 } from "./env.mjs";

loadWranglerEnv();
const { unstable_startWorker: startWorker } = await import("wrangler");

const OUT = join(ROOT, ".openapi", "openapi.json");

const worker = await startWorker({
  config: join(ROOT, "wrangler.toml"),
  // The document needs no secret, but the worker expects both to be set; throwaway values, no .dev.vars needed.
  envFiles: [],
  bindings: {
    ADMIN_TOKEN: { type: "secret_text", value: randomBase64(24) },
    MASTER_KEY: { type: "secret_text", value: randomBase64(32) },
    LOG_LEVEL: { type: "plain_text", value: process.env.OPENAPI_EXPORT_LOG ? "info" : "silent" },
  },
  sendMetrics: false,
  dev: {
    remote: false,
    persist: false,
    watch: false,
    inspector: false,
    logLevel: process.env.OPENAPI_EXPORT_LOG ?? "warn",
    server: { hostname: "127.0.0.1", port: 0 },
  },
});

let exitCode = 0;
try {
  await worker.ready;
  const response = await worker.fetch("http://localhost/v1/openapi.json");
  const text = await response.text();
  if (response.status !== 200) {
    // A generator failure (say, a recursive schema without a component name) can show up here as a bare `{}`.
    throw new Error(
      `GET /v1/openapi.json answered ${response.status}: ${text.slice(0, 500)}\n` +
        "Run `OPENAPI_EXPORT_LOG=info node scripts/openapi-export.mjs` to see the worker's log.",
    );
  }
  const document = JSON.parse(text);
  mkdirSync(join(ROOT, ".openapi"), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(document, null, 2)}\n`);
  const operations = Object.values(document.paths ?? {}).reduce((n, item) => n + Object.keys(item).length, 0);
  console.log(`openapi-export: wrote .openapi/openapi.json (OpenAPI ${document.openapi}, ${operations} operations)`);
} catch (error) {
  console.error(`openapi-export: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
} finally {
  await worker.dispose();
}
process.exit(exitCode);
