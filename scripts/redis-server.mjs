// A throwaway Redis for tests (the `upstash` rate-limit backend runs against a real one, through
// scripts/upstash-rest-proxy.mjs): `redis-server` on a free 127.0.0.1 port, nothing persisted, its working directory
// a temporary one, killed on close or when this process exits.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const READY_TIMEOUT_MS = 10_000;
const NOT_INSTALLED =
  "redis-server is not installed: `apt-get install redis-server` (the Upstash rate-limit tests need it; .ci/run installs it)";

/** A port nothing listens on now (Redis cannot pick one itself: `--port 0` turns TCP off). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** @param {number} port whether Redis there answers PING */
function pong(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.setTimeout(500, () => socket.destroy());
    socket.on("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk;
      if (answer.includes("\r\n")) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer.startsWith("+PONG")));
  });
}

/** @returns {Promise<{ port: number, close(): Promise<void> }>} */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "uom-redis-"));
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  // read the log (a full pipe would stall Redis) and keep its end for the error when it does not start
  let log = "";
  const keep = (/** @type {Buffer} */ chunk) => {
    log = (log + chunk).slice(-2000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  /** Synchronous, so that it also runs on process exit. */
  const kill = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", kill);

  /** @type {Error | undefined} */
  let failure;
  child.once("error", (error) => {
    failure = /** @type {NodeJS.ErrnoException} */ (error).code === "ENOENT" ? new Error(NOT_INSTALLED) : error;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await pong(port))) {
    if (!failure && child.exitCode !== null) failure = new Error(`redis-server exited (${child.exitCode}):\n${log}`);
    if (!failure && Date.now() > deadline) failure = new Error(`redis-server did not answer PING in time:\n${log}`);
    if (failure) {
      process.off("exit", kill);
      kill();
      throw failure;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    async close() {
      process.off("exit", kill);
      kill(); // nothing to save
      await exited;
    },
  };
}
