// Starts the worker under `wrangler dev` for the benchmark, with its own state and secrets, and stops it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PORTS = [8787, 8788, 8789];
const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 90_000;

/** Environment that keeps wrangler off the network and quiet (same as the committed .env). */
export const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
};

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free (for the inspector, which must not collide with another wrangler). */
function anyFreePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function freePort() {
  for (const port of PORTS) if (await portIsFree(port)) return port;
  throw new Error(`No free port among ${PORTS.join(", ")}: stop the other wrangler dev first.`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One JSON call to a started server: `token` defaults to its admin token; a non-2xx answer throws with the body.
 */
export async function callApi(server, method, path, { token, body } = {}) {
  const response = await fetch(`${server.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token ?? server.adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Spawns `npx wrangler dev` in its own process group (so workerd dies with it), on a fresh temporary state
 * directory, with throwaway ADMIN_TOKEN / MASTER_KEY passed as `--var` (the user's .dev.vars is neither read
 * for them nor touched: CLI vars override it). Resolves once GET /health answers 200.
 */
export async function startServer({ cwd, args = [] }) {
  const port = await freePort();
  const inspectorPort = await anyFreePort();
  const stateDir = mkdtempSync(join(tmpdir(), "uom-bench-"));
  const logPath = join(stateDir, "wrangler.log");
  const adminToken = `bench-admin-${randomBytes(24).toString("hex")}`;
  const masterKey = randomBytes(32).toString("base64");
  const command = [
    "wrangler",
    "dev",
    "--ip",
    HOST,
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    join(stateDir, "state"),
    "--show-interactive-dev-session=false",
    // wrangler's own per-request log line costs the dev server CPU on every request
    "--log-level",
    "warn",
    "--var",
    `ADMIN_TOKEN:${adminToken}`,
    "--var",
    `MASTER_KEY:${masterKey}`,
    "--var",
    "LOG_LEVEL:silent",
    // one load generator is one client address: the per-address limit of the token endpoint would refuse the grant
    // runs, and measuring that limit is not what these runs are for
    "--var",
    "IP_RATE_LIMIT_BURST:1000000",
    "--var",
    "IP_RATE_LIMIT_PER_SECOND:1000000",
    ...args,
  ];
  const log = createWriteStream(logPath);
  const child = spawn("npx", command, {
    cwd,
    env: { ...process.env, ...WRANGLER_ENV },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const origin = `http://${HOST}:${port}`;
  const server = {
    origin,
    port,
    adminToken,
    stateDir,
    pid: child.pid,
    printableCommand: `npx ${command
      .map((a) => a.replace(/^(ADMIN_TOKEN|MASTER_KEY):.*/, "$1:<random>").replace(stateDir, "<tmp>"))
      .join(" ")}`,
    logTail(lines = 40) {
      try {
        return readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "(no log)";
      }
    },
    stop: () => stopServer(child, exit, () => exited, stateDir),
    stopSync: () => stopSync(child, () => exited, stateDir),
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`wrangler dev exited (${JSON.stringify(exited)}):\n${server.logTail()}`);
    try {
      const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await server.stop();
  throw new Error(`wrangler dev did not answer GET /health within ${READY_TIMEOUT_MS / 1000} s:\n${server.logTail()}`);
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopServer(child, exit, exited, stateDir) {
  if (!exited()) {
    signalGroup(child, "SIGTERM");
    const timedOut = await Promise.race([exit.then(() => false), sleep(5000).then(() => true)]);
    if (timedOut) signalGroup(child, "SIGKILL");
  }
  // workerd may outlive wrangler by a moment; the group kill above reaches it too
  signalGroup(child, "SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
}

/** Last resort from a synchronous `exit` handler. */
function stopSync(child, exited, stateDir) {
  if (!exited()) signalGroup(child, "SIGKILL");
  try {
    rmSync(stateDir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}
