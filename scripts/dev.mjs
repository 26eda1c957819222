// `npm run dev [-- <wrangler dev flags>]`: the whole service on this machine.
// 1. Creates .dev.vars from .dev.vars.example when it is missing, with a random admin token and master key.
// 2. Runs `wrangler dev` (every binding simulated, state under .wrangler/), passing the flags through.
// 3. Once /health answers, prints how to create the first tenant with curl.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { loadWranglerEnv, parseDotenv, ROOT, randomBase64, randomHex, wranglerBin } from "./env.mjs";

const DEV_VARS = join(ROOT, ".dev.vars");
const EXAMPLE = join(ROOT, ".dev.vars.example");
const DEFAULT_PORT = 8787;
const READY_TIMEOUT_MS = 120_000;

function ensureDevVars() {
  if (existsSync(DEV_VARS)) {
    const vars = parseDotenv(readFileSync(DEV_VARS, "utf8"));
    for (const name of ["ADMIN_TOKEN", "MASTER_KEY"]) {
      if (!vars[name]) console.warn(`dev: .dev.vars has no ${name}; compare it with .dev.vars.example.`);
    }
    return;
  }
  const text = readFileSync(EXAMPLE, "utf8").replace(/__RANDOM_KEY__|__RANDOM__/g, (placeholder) =>
    placeholder === "__RANDOM_KEY__" ? randomBase64(32) : `dev_${randomHex(24)}`,
  );
  writeFileSync(DEV_VARS, text, { mode: 0o600 });
  chmodSync(DEV_VARS, 0o600);
  console.log("dev: created .dev.vars with a random ADMIN_TOKEN and MASTER_KEY (kept out of git).");
}

/** The value of `--name value` or `--name=value` among the flags, if given. */
function flag(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** 8787, or the next free port, chosen here so that the printed URLs are the ones wrangler listens on. */
async function choosePort() {
  for (let port = DEFAULT_PORT; port < DEFAULT_PORT + 100; port++) {
    if (await portIsFree(port)) return port;
  }
  return DEFAULT_PORT;
}

async function waitUntilReady(origin, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

function printFirstSteps(origin) {
  console.log(`
  User Ops Manager is running at ${origin}
    API reference: ${origin}/docs    OpenAPI: ${origin}/v1/openapi.json

  Create the first tenant with the admin token from .dev.vars:

    ADMIN_TOKEN=$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)
    curl -s -X POST ${origin}/v1/tenants \\
      -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
      -d '{"name": "Acme"}'

  Its apiKey.secret (uom_sk_…) is the tenant's admin API key, shown once. README.md walks on from there.
`);
}

loadWranglerEnv();
ensureDevVars();

const args = process.argv.slice(2);
let port = flag(args, "port");
if (!port) {
  port = String(await choosePort());
  args.push("--port", port);
}
const host = flag(args, "ip") ?? "localhost";
const origin = `http://${["0.0.0.0", "*", "::"].includes(host) ? "localhost" : host}:${port}`;

const child = spawn(process.execPath, [wranglerBin(), "dev", ...args], { cwd: ROOT, stdio: "inherit" });

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1)));

if (await waitUntilReady(origin, child)) printFirstSteps(origin);
