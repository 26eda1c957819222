// The outbox's per-write cost (docs/events.md): every tenant write also claims its outbox rows
// (`UPDATE … RETURNING`) and hands them to the EVENTS queue (`sendBatch`) in waitUntil, after the response. This
// scenario measures PATCH /v1/users/{id} (one user.updated event per write) against the ceiling (GET /health) and a
// read of the same users, in the same minute, on a tenant of its own; then it accounts for every event the writes
// emitted: acknowledged by the queue consumer while the writes ran, pending at the end, and how long the rest took.
// wrangler dev runs no cron, so the sweeper never runs here: every acknowledged event was sent by its request.

import os from "node:os";

const SEED_USERS = 500;
const DRAIN_TIMEOUT_MS = 120_000;

/** The user.updated events since `since`, by delivery state, read through GET /v1/events. */
async function eventCounts(api, token, since) {
  const counts = { total: 0, pending: 0, dispatched: 0, dead: 0 };
  let cursor = null;
  do {
    const query = `type=user.updated&since=${encodeURIComponent(since)}&limit=1000`;
    const page = await api("GET", `/v1/events?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
      token,
    });
    for (const event of page.data) {
      counts.total++;
      counts[event.delivery]++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  return counts;
}

async function pendingEvents(api, token) {
  return (await api("GET", "/v1/events?delivery=pending&limit=1", { token })).data.length;
}

/** Waits until the queue consumer acknowledged every event of the tenant; the time it took, or null on timeout. */
async function drain(api, token) {
  const started = Date.now();
  while (Date.now() - started < DRAIN_TIMEOUT_MS) {
    if ((await pendingEvents(api, token)) === 0) return (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}

export async function runOutboxScenario({ api, measure, adminToken, runId, log }) {
  const loadAtStart = os.loadavg();
  const tenant = await api("POST", "/v1/tenants", {
    token: adminToken,
    body: { name: `Bench outbox ${runId}`, plan: "enterprise" },
  });
  const token = tenant.apiKey.secret;
  const operations = Array.from({ length: SEED_USERS }, (_, i) => ({
    op: "create",
    data: { email: `outbox.${runId}.${i}@example.com`, name: `Outbox User ${i}` },
  }));
  const seeded = await api("POST", "/v1/users/bulk", { token, body: { operations } });
  const ids = seeded.results.map((r) => r.id);
  log(`Outbox scenario: tenant ${tenant.id}, ${ids.length} users; waiting for their events to be acknowledged…`);
  if ((await drain(api, token)) === null) throw new Error("outbox: the seeding's events were never all acknowledged");

  const auth = { authorization: `Bearer ${token}` };
  const pick = () => ids[Math.floor(Math.random() * ids.length)];
  const ceiling = await measure("GET /health", { request: { method: "GET", path: "/health" } });
  const read = await measure("GET /v1/users/{id} (outbox tenant)", {
    request: {
      method: "GET",
      path: "/v1/users/x",
      headers: auth,
      setupRequest: (r) => ({ ...r, path: `/v1/users/${pick()}` }),
    },
  });
  const since = new Date().toISOString();
  let renamed = 0;
  let writes = 0;
  const write = await measure("PATCH /v1/users/{id} (one event per write)", {
    request: {
      method: "PATCH",
      path: "/v1/users/x",
      headers: { ...auth, "content-type": "application/json" },
      // a new name every time: a PATCH that changes nothing writes (and emits) nothing
      setupRequest: (r) => ({
        ...r,
        path: `/v1/users/${pick()}`,
        body: JSON.stringify({ name: `Renamed ${++renamed}` }),
      }),
      onResponse: (status) => {
        if (status === 200) writes++;
      },
    },
  });
  const atEnd = await eventCounts(api, token, since);
  log(`  events at the end of the writes: ${JSON.stringify(atEnd)} for ${writes} writes (warm-up included)`);
  const drainSeconds = await drain(api, token);
  const final = await eventCounts(api, token, since);
  log(`  after ${drainSeconds ?? "(timeout)"} s: ${JSON.stringify(final)}`);
  const failures = [];
  // autocannon drops the requests still in flight when a run ends (at most one per connection, warm-up and measured
  // run): the server wrote them, so their events count, but no answer was counted
  if (final.total < writes || final.total > renamed) {
    failures.push(`outbox: ${final.total} events for ${writes} answered writes (${renamed} sent)`);
  }
  if (final.pending > 0 || final.dead > 0) failures.push(`outbox: ${final.pending} pending, ${final.dead} dead`);
  const load = { start: loadAtStart, end: os.loadavg() };
  return { ceiling, read, write, writes, sent: renamed, atEnd, final, drainSeconds, failures, load };
}

const pct = (a, b) => `${((a / b) * 100).toFixed(1)}%`;

/** The outbox section of bench/results.md. */
export function outboxMarkdown(r, { date, code, command, env }) {
  const loads = (l) => l.map((x) => x.toFixed(2)).join(" ");
  const row = (m, ratio) =>
    `| ${m.name} | ${m.connections} | ${Math.round(m.rps)} | ${m.p50} ms | ${m.p99} ms | ${ratio} | ${m.failures} |`;
  return [
    "## Outbox cost per write",
    "",
    `- Date: ${date}; code: ${code}; command: \`${command}\``,
    `- Machine: ${env.os}; ${env.cpu}, ${env.cores} cores; Node ${env.node}; wrangler ${env.wrangler}. Load average (1, 5, 15 min) when the scenario started: ${loads(r.load.start)}; at its end: ${loads(r.load.end)}${r.load.start[0] > env.cores * 0.5 ? " — other work shared the machine, so absolute figures are low and ratios noisy" : ""}.`,
    `- A tenant of its own with ${SEED_USERS} users (their creation events acknowledged before measuring); the three routes measured one after the other in the same minute, as in the routes table (warm-up, then the measured run). Each PATCH renames a random user: one \`user.updated\` event, claimed and sent to the EVENTS queue in waitUntil after the response. wrangler dev runs no cron, so the sweeper never ran: every acknowledged event was sent by its own request.`,
    "",
    "| Route | Conn | req/s | p50 | p99 | ratio | errors |",
    "|---|---:|---:|---:|---:|---:|---:|",
    row(r.ceiling, "(ceiling)"),
    row(r.read, `${pct(r.read.rps, r.ceiling.rps)} of /health`),
    row(r.write, `${pct(r.write.rps, r.ceiling.rps)} of /health, ${pct(r.write.rps, r.read.rps)} of the read`),
    "",
    `Events: ${r.sent.toLocaleString("en-US")} PATCH requests sent (warm-up included), ${r.writes.toLocaleString("en-US")} answered 200 before their run ended (the rest were in flight when autocannon stopped, at most one per connection and run) and ${r.final.total.toLocaleString("en-US")} \`user.updated\` events emitted. When the last write answered, the log held ${r.atEnd.total.toLocaleString("en-US")} of them: ${r.atEnd.dispatched.toLocaleString("en-US")} already acknowledged by the queue consumer, ${r.atEnd.pending.toLocaleString("en-US")} pending; ${r.drainSeconds === null ? "they were NOT all acknowledged within 120 s" : `all were acknowledged ${r.drainSeconds.toFixed(1)} s later (the queue's max_batch_timeout is 1 s)`}. Left unsent or pending at the end: ${r.final.pending}; dead: ${r.final.dead}.`,
    "",
    r.failures.length > 0 ? `**Errors:** ${r.failures.join("; ")}` : "",
  ]
    .filter((line, i, all) => line !== "" || all[i - 1] !== "")
    .join("\n");
}
