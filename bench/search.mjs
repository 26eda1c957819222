// Search and filters at scale (`npm run bench`, issue 4 §5): a dedicated tenant with custom fields, N users seeded
// through POST /v1/users/bulk, then, one request at a time over one keep-alive connection, `q=` searches of words
// of different selectivity, two-condition filters on indexed fields, the walk through every page at limit=1000, and
// GET /health (the ceiling) interleaved with them so that the dev proxy's share is known.
import os from "node:os";
import { FIELDS, FILTERS, population, QUERY_CLASSES, VARIANTS } from "./search-data.mjs";

export const SEARCH_DEFAULT_USERS = 100_000;
const BULK_SIZE = 1000;
const PAGE_LIMIT = 1000;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { n: 0 };
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** Load average (1 min) every few seconds while the scenario runs: the machine is shared. */
function loadSampler() {
  const samples = [];
  const take = () => samples.push(os.loadavg()[0]);
  take();
  const timer = setInterval(take, 5000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      take();
      return { min: Math.min(...samples), max: Math.max(...samples), last: samples.at(-1) };
    },
  };
}

function client(origin, token) {
  const headers = { authorization: `Bearer ${token}` };
  const failures = [];
  /** One request, timed from send to the last byte of the body; non-2xx answers are recorded as failures. */
  async function timed(path, { auth = true } = {}) {
    const started = performance.now();
    let status = 0;
    let text = "";
    let headersMs = Number.NaN;
    try {
      const response = await fetch(`${origin}${path}`, { headers: auth ? headers : {} });
      headersMs = performance.now() - started;
      status = response.status;
      text = await response.text();
    } catch (error) {
      text = String(error);
    }
    const ms = performance.now() - started;
    if (status !== 200 && failures.length < 1000) failures.push(`GET ${path} → ${status}: ${text.slice(0, 200)}`);
    return { ms, headersMs, status, text };
  }
  async function call(method, path, body) {
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, text };
  }
  return { timed, call, failures };
}

async function defineFields(http, log) {
  const defined = [];
  const skipped = [];
  for (const field of FIELDS) {
    const { status, text } = await http.call("POST", "/v1/schema/fields", field);
    if (status === 201) defined.push(field.name);
    else if (field.searchable) skipped.push(`${field.name} (searchable): ${status} ${text.slice(0, 200)}`);
    else throw new Error(`defining field ${field.name} → ${status}: ${text.slice(0, 300)}`);
  }
  log(`  fields: ${defined.join(", ")}${skipped.length ? `; not defined: ${skipped.join("; ")}` : ""}`);
  return { defined, skipped, searchableField: defined.includes("title") };
}

/** Seeds `users` users in calls of BULK_SIZE creates, `parallel` calls in flight. */
async function seed(http, people, users, parallel, log) {
  const callCount = Math.ceil(users / BULK_SIZE);
  const calls = new Array(callCount);
  let next = 0;
  let done = 0;
  const started = performance.now();
  let lastLog = started;
  async function worker() {
    while (next < callCount) {
      const call = next++;
      const operations = [];
      for (let i = call * BULK_SIZE; i < Math.min(users, (call + 1) * BULK_SIZE); i++) {
        const data = people.user(i);
        people.tally(data);
        operations.push({ op: "create", data });
      }
      const callStarted = performance.now();
      const { status, text } = await http.call("POST", "/v1/users/bulk", { operations });
      const seconds = (performance.now() - callStarted) / 1000;
      if (status !== 200) throw new Error(`seeding: bulk → ${status}: ${text.slice(0, 500)}`);
      const failed = JSON.parse(text).results.filter((r) => r.status !== 201);
      if (failed.length > 0) throw new Error(`seeding: ${failed.length} failed, e.g. ${JSON.stringify(failed[0])}`);
      calls[call] = { seconds, count: operations.length };
      done += operations.length;
      const now = performance.now();
      if (now - lastLog > 10_000 || done === users) {
        lastLog = now;
        const wall = (now - started) / 1000;
        log(`  ${done.toLocaleString("en-US")} users in ${wall.toFixed(0)} s (${Math.round(done / wall)} users/s)`);
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  const wallSeconds = (performance.now() - started) / 1000;
  const rates = calls.map((c) => c.count / c.seconds);
  const tenth = Math.max(1, Math.floor(calls.length / 10));
  const rateOf = (slice) => slice.reduce((a, c) => a + c.count, 0) / slice.reduce((a, c) => a + c.seconds, 0);
  return {
    users,
    calls: calls.length,
    parallel,
    wallSeconds,
    usersPerSec: users / wallSeconds,
    perCall: summarize(calls.map((c) => c.seconds * 1000)),
    medianUsersPerSec: summarize(rates).p50,
    firstTenthUsersPerSec: rateOf(calls.slice(0, tenth)),
    lastTenthUsersPerSec: rateOf(calls.slice(-tenth)),
  };
}

const usersPath = (params) => `/v1/users?${new URLSearchParams(params)}`;

/** Runs `path` once with count=true: how many users the API says it matches, against what the seed says. */
async function checkCount(http, params, expected) {
  const { status, text } = await http.timed(usersPath({ ...params, limit: "50", count: "true" }));
  const total = status === 200 ? JSON.parse(text).total : null;
  return { expected, total, ok: total === expected };
}

/**
 * The measured requests, one at a time, interleaved (a /health before each, so machine noise hits the ceiling as it
 * hits the routes): `rounds` rounds, each one search per query class, one of each filter and one plain list,
 * and every other round the variants.
 */
async function measureQueries(http, rounds, log) {
  const series = new Map();
  const record = (key, ms) => {
    if (!series.has(key)) series.set(key, []);
    series.get(key).push(ms);
  };
  const health = async () => record("health", (await http.timed("/health", { auth: false })).ms);
  const plan = [
    ...QUERY_CLASSES.map((c, k) => ({
      key: `q:${k}`,
      path: (r) => usersPath({ q: c.words[r % c.words.length], limit: "50" }),
    })),
    ...FILTERS.map((f, k) => ({ key: `filter:${k}`, path: () => usersPath({ filter: f.filter, limit: "50" }) })),
    { key: "list", path: () => usersPath({ limit: "50" }) },
    // the variants every other round
    ...VARIANTS.map((v, k) => ({ key: `variant:${k}`, path: () => usersPath(v.params), every: 2 })),
  ];
  // warm-up: every word and filter once, and the proxy
  for (let i = 0; i < 10; i++) await http.timed("/health", { auth: false });
  for (let r = 0; r < QUERY_CLASSES[0].words.length; r++) for (const step of plan) await http.timed(step.path(r));
  const started = performance.now();
  let lastLog = started;
  for (let r = 0; r < rounds; r++) {
    for (const step of plan) {
      if (step.every && r % step.every !== 0) continue;
      await health();
      record(step.key, (await http.timed(step.path(r))).ms);
    }
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      log(`  round ${r + 1}/${rounds} (${((lastLog - started) / 1000).toFixed(0)} s)`);
    }
  }
  return series;
}

/**
 * Every page of GET /v1/users?limit=1000, following nextCursor: wall-clock total, pages, users seen (distinct), and
 * per page the time to the response's headers (the worker answers with the whole body built) and its size.
 */
async function walkPages(http) {
  const seen = new Set();
  const pages = [];
  const headers = [];
  let bytes = 0;
  let cursor = null;
  let duplicates = 0;
  const started = performance.now();
  do {
    const { ms, headersMs, status, text } = await http.timed(
      usersPath({ limit: String(PAGE_LIMIT), ...(cursor ? { cursor } : {}) }),
    );
    if (status !== 200) break;
    pages.push(ms);
    headers.push(headersMs);
    bytes += Buffer.byteLength(text);
    const page = JSON.parse(text);
    for (const user of page.data) {
      if (seen.has(user.id)) duplicates++;
      seen.add(user.id);
    }
    cursor = page.nextCursor;
  } while (cursor);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    pages: pages.length,
    perPage: summarize(pages),
    toHeaders: summarize(headers),
    bytesPerPage: bytes / Math.max(1, pages.length),
    users: seen.size,
    duplicates,
  };
}

/**
 * The whole scenario against a running server: returns everything the report (bench/search-report.mjs) needs.
 * Options: users, rounds (per query class and filter), parallel (bulk calls in flight), log.
 */
export async function runSearchScenario({ origin, adminToken, users, rounds, parallel, log }) {
  const load = loadSampler();
  const loadAtStart = os.loadavg();
  const tenantResponse = await fetch(`${origin}/v1/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `Bench search ${users}`, plan: "enterprise" }),
  });
  if (tenantResponse.status !== 201)
    throw new Error(`tenant → ${tenantResponse.status}: ${await tenantResponse.text()}`);
  const tenant = await tenantResponse.json();
  const http = client(origin, tenant.apiKey.secret);
  log(
    `Search tenant ${tenant.id}: custom fields, then ${users.toLocaleString("en-US")} users in calls of ${BULK_SIZE} (${parallel} in flight)…`,
  );
  const fields = await defineFields(http, log);
  const people = population();
  const seeded = await seed(http, people, users, parallel, log);
  const loadAfterSeeding = os.loadavg();

  log("Checking what each search and filter finds (count=true, once each)…");
  const counts = { words: {}, filters: [] };
  for (const c of QUERY_CLASSES) {
    for (const word of c.words) counts.words[word] = await checkCount(http, { q: word }, people.expected.words[word]);
  }
  for (const [k, f] of FILTERS.entries())
    counts.filters.push(await checkCount(http, { filter: f.filter }, people.expected.filters[k]));
  const mismatches = [
    ...Object.entries(counts.words)
      .filter(([, c]) => !c.ok)
      .map(([w, c]) => `q=${w}: found ${c.total}, seeded ${c.expected}`),
    ...counts.filters.flatMap((c, k) =>
      c.ok ? [] : [`filter ${FILTERS[k].filter}: found ${c.total}, seeded ${c.expected}`],
    ),
  ];
  for (const m of mismatches) log(`  ⚠ ${m}`);

  log(
    `Measuring, one request at a time: ${rounds} rounds of ${QUERY_CLASSES.length} searches, ${FILTERS.length} filters, 1 list, each after a GET /health…`,
  );
  const series = await measureQueries(http, rounds, log);
  log(`Paging through every user, limit=${PAGE_LIMIT}…`);
  const paging = await walkPages(http);
  log(`  ${paging.users.toLocaleString("en-US")} users in ${paging.pages} pages, ${paging.seconds.toFixed(2)} s`);
  const during = load.stop();

  const byKey = (key) => summarize(series.get(key) ?? []);
  const qAll = QUERY_CLASSES.flatMap((_, k) => series.get(`q:${k}`) ?? []);
  const filterAll = FILTERS.flatMap((_, k) => series.get(`filter:${k}`) ?? []);
  return {
    users,
    tenantId: tenant.id,
    fields,
    seeded,
    counts,
    mismatches,
    health: byKey("health"),
    list: byKey("list"),
    search: {
      overall: summarize(qAll),
      classes: QUERY_CLASSES.map((c, k) => ({
        name: c.name,
        words: c.words.map((w) => ({ word: w, hits: people.expected.words[w] })),
        stats: byKey(`q:${k}`),
      })),
    },
    filters: {
      overall: summarize(filterAll),
      variants: FILTERS.map((f, k) => ({
        name: f.name,
        filter: f.filter,
        hits: people.expected.filters[k],
        stats: byKey(`filter:${k}`),
      })),
    },
    variants: VARIANTS.map((v, k) => ({ name: v.name, stats: byKey(`variant:${k}`) })),
    paging,
    failures: http.failures,
    load: { atStart: loadAtStart, afterSeeding: loadAfterSeeding, during },
    rounds,
  };
}
