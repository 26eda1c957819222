// Webhook fan-out benchmark (`npm run bench:webhooks`, about a minute): starts the worker under `wrangler dev`, a
// node:http receiver on 127.0.0.1 answering 204 at once, N endpoints of one tenant listening to `user.created`, then
// writes M users in one bulk call (M events). Measures deliveries per second from that write to the last of the
// N × M signed requests at the receiver, and the ceiling (GET /health, autocannon) of the same run, and writes the
// "Webhook fan-out" section of bench/results.md (between its markers; the rest of the file is left as it was).
//
// Options: --endpoints <n> (5) --events <n> (100) --rounds <n> (2) --no-write
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { environment } from "./report.mjs";
import { callApi, startServer } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const BEGIN = "<!-- webhooks:begin -->";
const END = "<!-- webhooks:end -->";

const { values: opts } = parseArgs({
  options: {
    endpoints: { type: "string", default: "5" },
    events: { type: "string", default: "100" },
    rounds: { type: "string", default: "2" },
    "no-write": { type: "boolean", default: false },
  },
});
const ENDPOINTS = Number(opts.endpoints);
const EVENTS = Number(opts.events);
const ROUNDS = Number(opts.rounds);

const log = (message) => console.log(message);
const loadAtStart = environment().loadAtStart;

/** The receiver: counts the requests it gets, answers 204 at once. */
function startReceiver() {
  const seen = new Map();
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      seen.set("all", (seen.get("all") ?? 0) + 1);
      response.writeHead(204);
      response.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port, seen }));
  });
}

let server;
let receiver;
try {
  server = await startServer({ cwd: root });
  receiver = await startReceiver();
  const api = (method, path, options) => callApi(server, method, path, options);

  log(`ceiling: GET /health, 10 connections, 5 s`);
  const ceiling = await autocannon({ url: `${server.origin}/health`, connections: 10, duration: 5 });
  const tenant = await api("POST", "/v1/tenants", { body: { name: "Bench webhooks", plan: "enterprise" } });
  const key = tenant.apiKey.secret;
  for (let i = 0; i < ENDPOINTS; i++) {
    await api("POST", "/v1/webhooks", {
      token: key,
      body: { url: `http://127.0.0.1:${receiver.port}/hook/${i}`, events: ["user.created"] },
    });
  }
  // warm-up: one event to every endpoint, not recorded
  await api("POST", "/v1/users", { token: key, body: { email: `warm.${Date.now()}@example.com` } });
  await waitFor(() => (receiver.seen.get("all") ?? 0) >= ENDPOINTS, 60_000);

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const before = receiver.seen.get("all") ?? 0;
    const expected = ENDPOINTS * EVENTS;
    const users = Array.from({ length: EVENTS }, (_, i) => ({
      email: `bench.wh.${round}.${i}.${Date.now()}@example.com`,
    }));
    const started = performance.now();
    await api("POST", "/v1/users/bulk", {
      token: key,
      body: { operations: users.map((u) => ({ op: "create", data: u })) },
    });
    await waitFor(() => (receiver.seen.get("all") ?? 0) - before >= expected, 120_000);
    const seconds = (performance.now() - started) / 1000;
    rounds.push({ deliveries: expected, seconds, perSecond: expected / seconds });
    log(`round ${round}: ${expected} deliveries in ${seconds.toFixed(2)} s = ${(expected / seconds).toFixed(0)}/s`);
  }
  const extra = (receiver.seen.get("all") ?? 0) - ENDPOINTS - ROUNDS * ENDPOINTS * EVENTS;
  const sorted = rounds.map((r) => r.perSecond).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const markdown = [
    "## Webhook fan-out",
    "",
    `- Date: ${new Date().toISOString()}; command: \`node bench/webhooks.mjs --endpoints ${ENDPOINTS} --events ${EVENTS} --rounds ${ROUNDS}\``,
    `- Machine: ${environment().os}; ${environment().cores} cores; load average at start ${loadAtStart}; Node ${process.version}`,
    `- One tenant, ${ENDPOINTS} endpoints listening to \`user.created\` at a node:http receiver on 127.0.0.1 that answers 204 at once; each round writes ${EVENTS} users in one \`POST /v1/users/bulk\` (${EVENTS} events), so ${ENDPOINTS * EVENTS} signed deliveries. Timed from the bulk call to the last request at the receiver: outbox → EVENTS queue → fan-out → \`uom-webhooks\` queue (batches of up to 50, max_batch_timeout 1 s) → signed POST → attempt recorded.`,
    `- Ceiling of the same run: GET /health at ${Math.round(ceiling.requests.average)} req/s (10 connections).`,
    "",
    "| Round | Deliveries | Seconds | Deliveries/s |",
    "|---:|---:|---:|---:|",
    ...rounds.map((r, i) => `| ${i + 1} | ${r.deliveries} | ${r.seconds.toFixed(2)} | ${Math.round(r.perSecond)} |`),
    "",
    `Median ${Math.round(median)} deliveries/s (${((median / ceiling.requests.average) * 100).toFixed(1)}% of the ceiling's requests per second; each delivery is one outbound request plus two D1 batches). Requests beyond one per delivery (duplicates): ${extra}.`,
  ].join("\n");
  log(`\n${markdown}\n`);
  if (!opts["no-write"]) {
    const path = join(here, "results.md");
    const old = readFileSync(path, "utf8");
    const i = old.indexOf(BEGIN);
    const j = old.indexOf(END);
    const block = `${BEGIN}\n${markdown}\n${END}`;
    const next =
      i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + END.length) : `${old.trimEnd()}\n\n${block}\n`;
    writeFileSync(path, next);
    log("bench/results.md updated (webhook fan-out section)");
  }
} finally {
  receiver?.server.close();
  await server?.stop();
}

async function waitFor(check, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting for the receiver");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
