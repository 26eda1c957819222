// Load benchmark (`npm run bench`): starts the worker under `wrangler dev`, seeds a tenant with users, measures
// the user routes with autocannon against the ceiling (GET /health) of the same run, and writes bench/results.md.
//
// Options: --duration <s> (10) --warmup <s> (2) --connections <n> (10) --bulk-connections <n> (1)
//          --users <n> (10000, seeded in calls of 1000) --no-write (do not update bench/results.md)
//          Search and filters at scale (bench/search.mjs, after the routes): --search-users <n> (100000; another
//          number is a one-off run, recorded under "One-off runs" and leaving the rest of results.md as it was)
//          --search-rounds <n> (100) --search-bulk-parallel <n> (1) --skip-search --only-search
//          Outbox cost per write (bench/outbox.mjs, after the routes): --skip-outbox --only-outbox
//          Traffic control (bench/traffic.mjs, last; two workers of its own): --skip-traffic --only-traffic
//          Insights at 100,000 users (bench/insights.mjs, after traffic; a worker of its own): --skip-insights
//          --only-insights
//          Churn model on the demo tenant (bench/churn.mjs, last; a worker of its own): --skip-churn --only-churn
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { runChurnScenario } from "./churn.mjs";
import { measureHashCost, measureLoginOverhead, seedIdentity, startHashWorker } from "./identity.mjs";
import { runInsightsScenario } from "./insights.mjs";
import { outboxMarkdown, runOutboxScenario } from "./outbox.mjs";
import { environment, markdownReport, tableRows, textTable, verdicts } from "./report.mjs";
import { runSearchScenario, SEARCH_DEFAULT_USERS } from "./search.mjs";
import { mergeResults, searchMarkdown, searchSummary } from "./search-report.mjs";
import { callApi, startServer } from "./server.mjs";
import { runTrafficScenario } from "./traffic.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const BULK_SIZE = 1000;

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "10" },
    "bulk-connections": { type: "string", default: "1" },
    users: { type: "string", default: "10000" },
    "no-write": { type: "boolean", default: false },
    "search-users": { type: "string", default: String(SEARCH_DEFAULT_USERS) },
    "search-rounds": { type: "string", default: "100" },
    "search-bulk-parallel": { type: "string", default: "1" },
    "skip-search": { type: "boolean", default: false },
    "only-search": { type: "boolean", default: false },
    "skip-outbox": { type: "boolean", default: false },
    "only-outbox": { type: "boolean", default: false },
    "skip-traffic": { type: "boolean", default: false },
    "only-traffic": { type: "boolean", default: false },
    "skip-insights": { type: "boolean", default: false },
    "only-insights": { type: "boolean", default: false },
    "skip-churn": { type: "boolean", default: false },
    "only-churn": { type: "boolean", default: false },
  },
});
const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const CONNECTIONS = Number(opts.connections);
const BULK_CONNECTIONS = Number(opts["bulk-connections"]);
const SEED_USERS = Number(opts.users);
const SEARCH_USERS = Number(opts["search-users"]);
const SEARCH_ONE_OFF = SEARCH_USERS !== SEARCH_DEFAULT_USERS;
if (opts["skip-search"] && opts["only-search"]) throw new Error("--skip-search and --only-search exclude each other");
if (opts["only-outbox"] && (opts["only-search"] || opts["skip-outbox"])) {
  throw new Error("--only-outbox excludes --only-search and --skip-outbox");
}
const runId = randomBytes(4).toString("hex");
let emailCounter = 0;
const nextEmail = () => `bench.${runId}.${++emailCounter}@example.com`;

let server;
let stopping = false;
let busyAtStart = null;

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  if (server) await server.stop();
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping wrangler dev…`);
    void shutdown(130);
  });
}
process.on("exit", () => server?.stopSync());

const log = (message) => console.log(message);

const api = (method, path, options) => callApi(server, method, path, options);

/** A key whose only role is a custom one: users:read with the email and phone grants, not the custom fields'. */
async function scopedReader(token) {
  const name = `bench-reader-${runId}`;
  const grants = ["users:read", "users.email:read", "users.phone:read"];
  await api("POST", "/v1/roles", { token, body: { name, permissions: grants } });
  const key = await api("POST", "/v1/api-keys", { token, body: { name, roles: [name] } });
  return key.secret;
}

function bulkBody(count) {
  const operations = [];
  for (let i = 0; i < count; i++) {
    const email = nextEmail();
    operations.push({ op: "create", data: { email, name: `Bench User ${emailCounter}` } });
  }
  return JSON.stringify({ operations });
}

/** Seeds the tenant in calls of BULK_SIZE creates, timing each call (the bulk create figure). */
async function seed(token) {
  const ids = [];
  const calls = [];
  for (let done = 0; done < SEED_USERS; done += BULK_SIZE) {
    const count = Math.min(BULK_SIZE, SEED_USERS - done);
    const body = bulkBody(count);
    const started = performance.now();
    const response = await fetch(`${server.origin}/v1/users/bulk`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    const result = await response.json();
    const seconds = (performance.now() - started) / 1000;
    if (response.status !== 200) throw new Error(`seeding: bulk → ${response.status}: ${JSON.stringify(result)}`);
    const failed = result.results.filter((r) => r.status !== 201);
    if (failed.length > 0) throw new Error(`seeding: ${failed.length} items failed, e.g. ${JSON.stringify(failed[0])}`);
    for (const r of result.results) ids.push(r.id);
    calls.push(seconds);
    log(
      `  call ${calls.length}: ${count} users in ${Math.round(seconds * 1000)} ms (${Math.round(count / seconds)} users/s)`,
    );
  }
  const perSecond = calls.map((s) => BULK_SIZE / s).sort((a, b) => a - b);
  const mid = perSecond.length >> 1;
  return {
    ids,
    calls,
    users: ids.length,
    perCall: BULK_SIZE,
    medianUsersPerSec: perSecond.length % 2 ? perSecond[mid] : (perSecond[mid - 1] + perSecond[mid]) / 2,
    bestUsersPerSec: perSecond.at(-1),
  };
}

function cannon({ connections, duration, request }) {
  return autocannon({
    url: server.origin,
    connections,
    duration,
    timeout: 30,
    requests: [request],
  });
}

/** One route: a warm-up run (discarded), then the measured run. */
async function measure(name, { connections = CONNECTIONS, request, itemsPerRequest, isCeiling = false }) {
  const itemFailures = { count: 0, example: null };
  const checked = {
    ...request,
    onResponse: itemsPerRequest ? (status, body) => checkBulkItems(status, body, itemFailures) : request.onResponse,
  };
  await cannon({ connections, duration: WARMUP, request });
  itemFailures.count = 0;
  const result = await cannon({ connections, duration: DURATION, request: checked });
  const completed = result.requests.total;
  const rps = completed / result.duration;
  const failures = result.errors + result.timeouts + result.non2xx + itemFailures.count;
  const m = {
    name,
    connections,
    rps,
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed,
    failures,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count])),
    errors: result.errors,
    timeouts: result.timeouts,
    itemFailures,
    isCeiling,
  };
  if (itemsPerRequest) m.usersPerSec = (result["2xx"] * itemsPerRequest - itemFailures.count) / result.duration;
  const flag = failures > 0 || completed === 0 ? "  ⚠ ERRORS" : "";
  log(
    `  ${name}: ${Math.round(rps)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ` +
      `status ${JSON.stringify(m.statusCodes)}${result.errors ? `, ${result.errors} socket errors` : ""}` +
      `${result.timeouts ? `, ${result.timeouts} timeouts` : ""}${flag}`,
  );
  return m;
}

/** The commit measured, and whether the code differed from it (the lead commits after the run). */
function codeVersion() {
  const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  try {
    const commit = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml", "package.json");
    const changed = dirty ? dirty.split("\n").length : 0;
    return changed
      ? `commit ${commit} + ${changed} uncommitted changes in src/, migrations/ or config`
      : `commit ${commit}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

function benchCommand() {
  return ["npm run bench", ...process.argv.slice(2)].join(" ").replace(/^npm run bench (.+)/, "npm run bench -- $1");
}

/** The search scenario (bench/search.mjs) on the running server, and its section of the report. */
async function measureSearch(env) {
  const result = await runSearchScenario({
    origin: server.origin,
    adminToken: server.adminToken,
    users: SEARCH_USERS,
    rounds: Number(opts["search-rounds"]),
    parallel: Number(opts["search-bulk-parallel"]),
    log,
  });
  const date = new Date().toISOString();
  const meta = { date, code: codeVersion(), command: benchCommand(), env };
  const heading = SEARCH_ONE_OFF
    ? `### ${result.users.toLocaleString("en-US")} users — one-off run of ${date.slice(0, 10)}`
    : `## Search and filters at scale (${result.users.toLocaleString("en-US")} users)`;
  return { result, summary: searchSummary(result), markdown: searchMarkdown(result, { ...meta, heading }) };
}

/** The outbox scenario (bench/outbox.mjs) on the running server, and its section of the report. */
async function measureOutbox(env) {
  const result = await runOutboxScenario({ api, measure, adminToken: server.adminToken, runId, log });
  const meta = { date: new Date().toISOString(), code: codeVersion(), command: benchCommand(), env };
  const markdown = outboxMarkdown(result, meta);
  return { result, markdown };
}

/** The traffic-control scenario (bench/traffic.mjs): its own two workers; prints its verdicts. */
async function measureTraffic() {
  const traffic = await runTrafficScenario({
    root,
    log,
    duration: DURATION,
    warmup: WARMUP,
    connections: CONNECTIONS,
    command: benchCommand(),
  });
  for (const v of traffic.verdicts) log(`${v.met ? "met   " : "MISSED"}  ${v.target}: ${v.value}`);
  return traffic;
}

/** The insights scenario (bench/insights.mjs): its own worker; prints its verdict. */
async function measureInsights() {
  const insights = await runInsightsScenario({ root, log, command: benchCommand() });
  const { met, worst } = insights.verdict;
  log(`${met ? "met   " : "MISSED"}  each insight at 100,000 users ≤ 200 ms: worst p95 ${worst.toFixed(1)} ms`);
  return insights;
}

/** The churn scenario (bench/churn.mjs): its own worker; prints its verdict. */
async function measureChurn() {
  const churn = await runChurnScenario({ log, command: benchCommand() });
  const { auc, baseline } = churn.verdict;
  log(
    `${auc > baseline ? "met   " : "MISSED"}  churn model AUC ${auc.toFixed(4)} > recency baseline ${baseline.toFixed(4)}`,
  );
  return churn;
}

/** Writes bench/results.md: what this run measured replaces its part; the rest stays (mergeResults). */
function writeResults({ main, search, outbox, traffic, insights, churn, started }) {
  const path = join(here, "results.md");
  let previous = null;
  try {
    previous = readFileSync(path, "utf8");
  } catch {
    // first run
  }
  const parts = SEARCH_ONE_OFF
    ? { main, oneOff: search && { users: SEARCH_USERS, markdown: search } }
    : { main, search, outbox, traffic, insights, churn };
  writeFileSync(path, mergeResults(previous, parts));
  log(`\nWrote bench/results.md (total ${((Date.now() - started) / 1000).toFixed(0)} s).`);
}

function checkBulkItems(status, body, failures) {
  if (status !== 200) return;
  try {
    for (const item of JSON.parse(body).results) {
      if (item.status !== 201) {
        failures.count++;
        failures.example ??= item;
      }
    }
  } catch (error) {
    failures.count++;
    failures.example ??= String(error);
  }
}

async function main() {
  const started = Date.now();
  const env = environment();
  log(`Machine: ${env.os}; ${env.cpu}, ${env.cores} cores; ${env.memory}; Node ${env.node}`);
  log(`wrangler ${env.wrangler}, workerd ${env.workerd}, autocannon ${env.autocannon}`);
  const load = os.loadavg()[0];
  if (load > env.cores * 0.5) {
    busyAtStart = `Load average was ${load.toFixed(2)} on ${env.cores} cores when the run started: other work shared the machine, so absolute figures are low and ratios noisy.`;
    log(`⚠ ${busyAtStart}`);
  }
  if (opts["only-traffic"]) {
    const traffic = await measureTraffic();
    if (!opts["no-write"]) writeResults({ traffic: traffic.markdown, started });
    return traffic.failures.length > 0 ? 1 : 0;
  }
  if (opts["only-insights"]) {
    const insights = await measureInsights();
    if (!opts["no-write"]) writeResults({ insights: insights.markdown, started });
    return insights.failures.length > 0 ? 1 : 0;
  }
  if (opts["only-churn"]) {
    const churn = await measureChurn();
    if (!opts["no-write"]) writeResults({ churn: churn.markdown, started });
    return churn.failures.length > 0 ? 1 : 0;
  }
  if (opts["only-outbox"]) {
    log("Starting wrangler dev…");
    server = await startServer({ cwd: root });
    const outbox = await measureOutbox(env);
    for (const f of outbox.result.failures) log(`⚠ ${f}`);
    if (!opts["no-write"]) writeResults({ outbox: outbox.markdown, started });
    return outbox.result.failures.length > 0 ? 1 : 0;
  }
  if (opts["only-search"] || SEARCH_ONE_OFF) {
    if (SEARCH_ONE_OFF && !opts["only-search"])
      log("A one-off search run (--search-users): the routes are not measured.");
    log("Starting wrangler dev…");
    server = await startServer({ cwd: root });
    const search = await measureSearch(env);
    log(`\n${search.summary}`);
    if (search.result.failures.length > 0) log("\n⚠⚠⚠ THIS RUN HAD ERRORS — the figures are not valid ⚠⚠⚠");
    if (!opts["no-write"]) writeResults({ search: search.markdown, started });
    return search.result.failures.length > 0 ? 1 : 0;
  }
  log("Password hash alone, in workerd (bench/hash-worker.ts)…");
  const hashWorker = await startHashWorker(root);
  const hash = await measureHashCost(hashWorker);
  log(`  ${hash.phc.split("$").slice(0, 3).join("$")}: p50 ${hash.p50.toFixed(1)} ms, p99 ${hash.p99.toFixed(1)} ms`);
  log("Starting wrangler dev…");
  server = await startServer({ cwd: root });
  log(`  ready at ${server.origin} in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${server.pid})`);

  const tenant = await api("POST", "/v1/tenants", {
    token: server.adminToken,
    body: { name: `Bench ${runId}`, plan: "enterprise" },
  });
  const token = tenant.apiKey.secret;
  log(`Tenant ${tenant.id}; seeding ${SEED_USERS} users in calls of ${BULK_SIZE}…`);
  const seeded = await seed(token);

  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, "content-type": "application/json" };
  const pick = () => seeded.ids[Math.floor(Math.random() * seeded.ids.length)];
  log(`Measuring: ${WARMUP} s warm-up + ${DURATION} s per route, ${CONNECTIONS} connections…`);
  const ceiling = await measure("GET /health", { request: { method: "GET", path: "/health" }, isCeiling: true });
  const read = await measure("GET /v1/users/{id}", {
    request: {
      method: "GET",
      path: "/v1/users/x",
      headers: auth,
      setupRequest: (r) => ({ ...r, path: `/v1/users/${pick()}` }),
    },
  });
  // the same read by a key whose custom role carries field grants: its grants were resolved with the key (one
  // query, cached with it), so the permission and field checks must cost no database query of their own
  const scoped = await scopedReader(token);
  const readScoped = await measure("GET /v1/users/{id} (custom role, field grants)", {
    request: {
      method: "GET",
      path: "/v1/users/x",
      headers: { authorization: `Bearer ${scoped}` },
      setupRequest: (r) => ({ ...r, path: `/v1/users/${pick()}` }),
    },
  });
  const list = await measure("GET /v1/users?limit=50", {
    request: { method: "GET", path: "/v1/users?limit=50", headers: auth },
  });
  const create = await measure("POST /v1/users", {
    request: {
      method: "POST",
      path: "/v1/users",
      headers: json,
      setupRequest: (r) => ({ ...r, body: JSON.stringify({ email: nextEmail(), name: "Bench Single" }) }),
    },
  });
  const bulk = await measure(`POST /v1/users/bulk (${BULK_SIZE} creates)`, {
    connections: BULK_CONNECTIONS,
    itemsPerRequest: BULK_SIZE,
    request: {
      method: "POST",
      path: "/v1/users/bulk",
      headers: json,
      setupRequest: (r) => ({ ...r, body: bulkBody(BULK_SIZE) }),
    },
  });
  const identity = await seedIdentity(api, token, nextEmail);
  const ceilingOne = await measure("GET /health", { connections: 1, request: { method: "GET", path: "/health" } });
  const loginOne = await measure("POST /oauth/token (password)", { connections: 1, request: identity.login });
  const loginTen = await measure("POST /oauth/token (password, 10 users)", { request: identity.loginRotating });
  log("Login overhead over its hash, paired samples…");
  const overhead = await measureLoginOverhead(hashWorker, server.origin, identity.login);
  await hashWorker.stop();
  log(
    `  login ${overhead.login.toFixed(1)} ms − hash ${overhead.hash.toFixed(1)} ms − /health ${overhead.health.toFixed(1)} ms = ${overhead.overhead.toFixed(1)} ms`,
  );
  const grants = await measure("POST /oauth/token (client_credentials)", { request: identity.clientCredentials });
  const drift = await measure("GET /health (again, drift check)", { request: { method: "GET", path: "/health" } });
  const measurements = [ceiling, read, readScoped, list, create, bulk, ceilingOne, loginOne, loginTen, grants, drift];
  const outbox = opts["skip-outbox"] ? null : await measureOutbox(env);
  const search = opts["skip-search"] ? null : await measureSearch(env);
  const traffic = opts["skip-traffic"] ? null : await measureTraffic();
  const insights = opts["skip-insights"] ? null : await measureInsights();
  const churn = opts["skip-churn"] ? null : await measureChurn();

  const failures = measurements.flatMap((m) => {
    const out = [];
    if (m.completed === 0) out.push(`${m.name}: no request completed`);
    if (m.failures > 0) {
      out.push(
        `${m.name}: ${m.failures} failures (status ${JSON.stringify(m.statusCodes)}, ${m.errors} socket errors, ` +
          `${m.timeouts} timeouts, ${m.itemFailures.count} failed bulk items` +
          `${m.itemFailures.example ? `, e.g. ${JSON.stringify(m.itemFailures.example).slice(0, 300)}` : ""})`,
      );
    }
    return out;
  });
  const rows = tableRows(measurements, ceiling.rps);
  const verdictList = verdicts({
    ceiling: ceiling.rps,
    read: read.rps,
    readScoped: readScoped.rps,
    list: list.rps,
    seedMedianUsersPerSec: seeded.medianUsersPerSec,
    seedBestUsersPerSec: seeded.bestUsersPerSec,
    bulkSustained: bulk.usersPerSec,
    hash,
    overhead,
    grants: grants.rps,
  });
  const notes = busyAtStart ? [busyAtStart] : [];
  const driftPct = ((drift.rps - ceiling.rps) / ceiling.rps) * 100;
  if (Math.abs(driftPct) > 15) {
    notes.push(
      `The ceiling drifted ${driftPct.toFixed(0)}% between the first and last /health runs: the machine was noisy.`,
    );
  }

  log("");
  log(textTable(rows));
  log("");
  log(
    `Bulk seeding: median ${Math.round(seeded.medianUsersPerSec)} users/s, best ${Math.round(seeded.bestUsersPerSec)} users/s`,
  );
  for (const v of verdictList) log(`${v.met ? "met   " : "MISSED"}  ${v.target}: ${v.value}`);
  if (search) log(`\n${search.summary}`);
  if (search?.result.failures.length > 0) failures.push(`search: ${search.result.failures.length} failed requests`);
  if (outbox) failures.push(...outbox.result.failures);
  if (traffic?.failures.length > 0) failures.push(`traffic: ${traffic.failures.length} runs with errors`);
  if (insights) failures.push(...insights.failures);
  if (churn) failures.push(...churn.failures);
  if (failures.length > 0) {
    log("\n⚠⚠⚠ THIS RUN HAD ERRORS — the figures are not valid ⚠⚠⚠");
    for (const f of failures) log(`  - ${f}`);
  }
  for (const n of notes) log(`note: ${n}`);

  if (!opts["no-write"]) {
    const markdown = markdownReport({
      date: new Date().toISOString(),
      env,
      command: {
        bench: benchCommand(),
        server: server.printableCommand,
        code: codeVersion(),
      },
      durations: { warmup: WARMUP, measure: DURATION },
      rows,
      seed: seeded,
      hash,
      verdictList,
      failures,
      notes,
    });
    writeResults({
      main: markdown,
      search: search?.markdown,
      outbox: outbox?.markdown,
      traffic: traffic?.markdown,
      insights: insights?.markdown,
      churn: churn?.markdown,
      started,
    });
  }
  return failures.length > 0 ? 1 : 0;
}

main()
  .then((code) => shutdown(code))
  .catch(async (error) => {
    console.error(`\nBenchmark failed: ${error instanceof Error ? error.stack : error}`);
    if (server) console.error(`\nwrangler dev log (tail):\n${server.logTail()}`);
    await shutdown(1);
  });
