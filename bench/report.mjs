// Machine facts, the results table (terminal and Markdown) and the target verdicts of a benchmark run.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";

const require = createRequire(import.meta.url);

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
  } catch {
    return "unknown";
  }
}

/** Why a target is missed, from profiling (bench/README in the results); keyed by the target's first words. */
const KNOWN_REASONS = {
  "bulk create":
    "measured inside the worker under wrangler dev (before personal data was encrypted), one call of 1,000 creates " +
    "spent about 4 ms validating, 20–25 ms planning (per row a ULID, the masked audit diff and the audit event's " +
    "HMAC-SHA256) and 45–50 ms in D1 writing 1,000 user rows and 1,000 audit rows set-based through json_each; the " +
    "dev proxy adds 10–15 ms. The D1 write alone nearly fills the 50 ms that 20,000 users/s allows. Since the " +
    "Identity issue every row also gets its email and phone AES-256-GCM-encrypted under the tenant's data key and " +
    "an HMAC blind index, and the median fell from 8,000–14,000 to 5,000–7,500 users/s. The crypto itself is not " +
    "most of that: in workerd an AES-GCM encryption or an HMAC costs 5–8 µs (crypto.subtle and node:crypto alike, " +
    "measured), about 15 ms per 1,000 rows; the rest of the increase (wider rows in the set-based insert, the " +
    "sealing code around it) is not profiled yet. Since the Search issue every row is also indexed for `q=` " +
    "(an FTS5 row and the keyed n-grams of its email and phone, written in the same batch): the median fell again, " +
    "to about 3,000–3,500 users/s (2,340 users/s over 100,000 richer users in the search run below). Next: profile " +
    "the sealing path, measure the index writes apart (a bulk load could defer them to a rebuild), and decide whether a bulk " +
    "request may record one audit event per request with per-user index rows instead of one full event per user " +
    "(a design change: the audit trail is per change today).",
  "a password login":
    "the login path around the hash is what the issue asks for: two throttle Durable Object calls (account, " +
    "address) in parallel with ONE indexed D1 read of the user (no decryption: it reads no personal data), the " +
    "hash, then ONE D1 batch (last login, audit event, outbox event, refresh token) and an ES256 signature; the " +
    "client's guard call runs alongside and the throttle reset after the answer. What is left is two local round " +
    "trips: under wrangler dev on this 2-core machine the D1 simulator answers a simple query in 1–3 ms and a " +
    "five-statement batch in several, so the paired medians put the sum at 7–10 ms across runs (they move by 2–3 ms " +
    "from run to run, as the 230 ms hash dominates each sample). Next: compare with deployed Workers, where D1 and " +
    "the Durable Objects are measured in their own right, before trading a guarantee (one batch with its audit " +
    "and outbox rows, counting an attempt before its hash) for milliseconds.",
};

export function environment() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    loadAtStart: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    node: process.version,
    wrangler: packageVersion("wrangler"),
    workerd: packageVersion("workerd"),
    miniflare: packageVersion("miniflare"),
    autocannon: packageVersion("autocannon"),
  };
}

const int = (n) => Math.round(n).toLocaleString("en-US");
const ms = (n) => (n === undefined || n === null ? "–" : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
const pct = (n) => (n === undefined || n === null ? "–" : `${n.toFixed(1)}%`);

/** Rows of the results table: one per measured route, ratio to the ceiling (GET /health) in the same run. */
export function tableRows(measurements, ceiling) {
  return measurements.map((m) => ({
    route: m.name,
    connections: String(m.connections),
    reqPerSec: int(m.rps),
    p50: ms(m.p50),
    p99: ms(m.p99),
    ofCeiling: m.isCeiling ? "(ceiling)" : m.usersPerSec === undefined ? pct((m.rps / ceiling) * 100) : "–",
    usersPerSec: m.usersPerSec === undefined ? "" : int(m.usersPerSec),
    errors: m.failures === 0 ? "0" : `${m.failures} ⚠`,
  }));
}

const COLUMNS = [
  ["route", "Route"],
  ["connections", "Conn"],
  ["reqPerSec", "req/s"],
  ["p50", "p50"],
  ["p99", "p99"],
  ["ofCeiling", "% of /health"],
  ["usersPerSec", "users/s"],
  ["errors", "errors"],
];

export function textTable(rows) {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => r[key].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [
    line(COLUMNS.map(([, t]) => t)),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(COLUMNS.map(([k]) => r[k]))),
  ].join("\n");
}

export function markdownTable(rows) {
  const head = `| ${COLUMNS.map(([, t]) => t).join(" | ")} |`;
  const rule = `|${COLUMNS.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`;
  const body = rows.map((r) => `| ${COLUMNS.map(([k]) => r[k].replaceAll("|", "\\|") || " ").join(" | ")} |`);
  return [head, rule, ...body].join("\n");
}

/** The issue's targets, judged on this run's numbers. */
/** scrypt work N·r·p from a PHC string (`$scrypt$ln=14,r=8,p=5,…$…`), or 0 when it is not scrypt. */
export function scryptWork(phc) {
  const params = Object.fromEntries(
    (/^\$scrypt\$([^$]+)\$/.exec(phc)?.[1] ?? "").split(",").map((kv) => kv.split("=")),
  );
  return params.ln ? 2 ** Number(params.ln) * Number(params.r) * Number(params.p) : 0;
}

// OWASP's scrypt minimum N=2^14, r=8, p=5 (Password Storage Cheat Sheet); its other listed minimums do the same work.
const OWASP_SCRYPT_WORK = 2 ** 14 * 8 * 5;

export function verdicts({
  ceiling,
  read,
  readScoped,
  list,
  seedMedianUsersPerSec,
  seedBestUsersPerSec,
  bulkSustained,
  hash,
  overhead,
  grants,
}) {
  return [
    {
      target: "GET /v1/users/{id} ≥ 15% of the ceiling",
      value: `${pct((read / ceiling) * 100)} (${int(read)} of ${int(ceiling)} req/s)`,
      met: read / ceiling >= 0.15,
    },
    {
      // one more D1 round trip per read (≈1–2 ms locally on a route of a few ms) would cost far more than 10%
      target: "the permission check costs no extra query: a custom-role key's user read ≥ 90% of the admin key's",
      value: `${pct((readScoped / read) * 100)} (${int(readScoped)} of ${int(read)} req/s)`,
      met: readScoped / read >= 0.9,
    },
    {
      target: "GET /v1/users?limit=50 ≥ 15% of the ceiling",
      value: `${pct((list / ceiling) * 100)} (${int(list)} of ${int(ceiling)} req/s)`,
      met: list / ceiling >= 0.15,
    },
    {
      target: "bulk create ≥ 20,000 users/s (1000 creates per call, seeding median)",
      value:
        `median ${int(seedMedianUsersPerSec)} users/s, best ${int(seedBestUsersPerSec)}; ` +
        `sustained under load ${int(bulkSustained)} users/s`,
      met: seedMedianUsersPerSec >= 20_000,
    },
    {
      target: "password hash at OWASP's scrypt minimum or stronger (N·r·p ≥ 2^14·8·5)",
      value: `${hash.phc.split("$")[2]}: ${int(scryptWork(hash.phc))} ≥ ${int(OWASP_SCRYPT_WORK)}; p50 ${ms(hash.p50)} per hash`,
      met: scryptWork(hash.phc) >= OWASP_SCRYPT_WORK,
    },
    {
      target: "a password login costs ≤ 5 ms more than its hash alone (1 connection)",
      value:
        `medians of ${overhead.samples} paired samples: login ${ms(overhead.login)} − hash alone ${ms(overhead.hash)} − ` +
        `/health ${ms(overhead.health)} (the dev proxy) = ${ms(overhead.overhead)}`,
      met: overhead.overhead <= 5,
    },
    {
      target: "client-credentials grants ≥ 50% of the ceiling",
      value: `${pct((grants / ceiling) * 100)} (${int(grants)} of ${int(ceiling)} req/s)`,
      met: grants / ceiling >= 0.5,
    },
  ];
}

export function markdownReport({ date, env, command, durations, rows, seed, hash, verdictList, failures, notes }) {
  const out = [];
  out.push("# Benchmark results", "");
  if (failures.length > 0) {
    out.push("> **⚠ THIS RUN HAD ERRORS — its figures are not valid.**", ...failures.map((f) => `> - ${f}`), "");
  }
  out.push(
    `- Date: ${date}`,
    `- Machine: ${env.os}; ${env.cpu}, ${env.cores} cores; ${env.memory} memory`,
    `- Load average at start (1, 5, 15 min): ${env.loadAtStart}`,
    `- Node ${env.node}; wrangler ${env.wrangler}; workerd ${env.workerd}; miniflare ${env.miniflare}; autocannon ${env.autocannon}`,
    `- Code: ${command.code}`,
    `- Command: \`${command.bench}\``,
    `- Server (started by the benchmark): \`${command.server}\``,
    `- Each route: ${durations.warmup} s warm-up (not recorded), then ${durations.measure} s measured; ` +
      "load generator and server share the machine. The ceiling is `GET /health` (no credential, no storage) " +
      "measured through the same path in the same run.",
    "",
    "## Results",
    "",
    markdownTable(rows),
    "",
    `Seeding: ${seed.users.toLocaleString("en-US")} users in ${seed.calls.length} calls of ${seed.perCall} creates ` +
      `(\`POST /v1/users/bulk\`): per call ${seed.calls.map((s) => `${Math.round(s * 1000)} ms`).join(", ")}; ` +
      `median ${int(seed.medianUsersPerSec)} users/s, best ${int(seed.bestUsersPerSec)} users/s.`,
    "",
    `Password hash alone (\`${hash.phc.split("$").slice(0, 3).join("$")}\`, bench/hash-worker.ts in workerd, ` +
      `${hash.samples} hashes one at a time, minus a no-op request to the same worker): p50 ${ms(hash.p50)}, ` +
      `p99 ${ms(hash.p99)}; ten at once finish in ${ms(hash.tenAtOnce)} (one isolate runs them one after another).`,
    "",
    "## Targets",
    "",
    "From the issues: user read and list ≥ 15% of the ceiling; bulk create ≥ 20,000 users/s (Foundation); " +
      "scrypt at OWASP's minimum or stronger, a login ≤ 5 ms over its hash at 1 connection, client-credentials " +
      "grants ≥ 50% of the ceiling (Identity).",
    "",
    "| Target | This run | Verdict |",
    "|---|---|---|",
    ...verdictList.map((v) => `| ${v.target} | ${v.value} | ${v.met ? "met" : "**MISSED**"} |`),
    "",
  );
  const missed = verdictList.filter((v) => !v.met);
  if (missed.length > 0) {
    out.push(
      `**${missed.length} target${missed.length > 1 ? "s" : ""} missed** in this run: ` +
        `${missed.map((v) => v.target).join("; ")}.`,
      "",
      ...missed.flatMap((v) => {
        const why = Object.entries(KNOWN_REASONS).find(([prefix]) => v.target.startsWith(prefix))?.[1];
        return [`**${v.target}** — reason and next step: ${why ?? "not analysed yet."}`, ""];
      }),
    );
  } else {
    out.push("All targets met in this run.", "");
  }
  if (notes.length > 0) out.push("## Notes", "", ...notes.map((n) => `- ${n}`), "");
  return out.join("\n");
}
