// Insights at 100,000 users (issue 8 §2; part of `npm run bench`, alone with `npm run bench -- --only-insights`).
// Starts a worker under `wrangler dev --test-scheduled`, seeds a tenant with 100,000 users (POST /v1/users/bulk) and
// about 120 days of activity (POST /v1/activity), times each insight's first request (which computes and stores the
// closed weeks and months it needs), runs the daily cron (/cdn-cgi/handler/scheduled) so closed days, weeks and months
// are rolled up, and measures each insight beside GET /health.
//
// Sign-up dates: the API stamps "now", so once the users exist the seed spreads their created_at over 150 days with
// one SQL statement (through wrangler dev's local explorer API, on the server's own D1), and writes each user's activity on
// days after that sign-up. Logins cannot be sent (the login routes record them at the time of the login): the same
// statement gives a third of the seeded active days one login, so the login-frequency figure has something to count.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rng } from "../scripts/demo-data.mjs";
import { environment } from "./report.mjs";
import { callApi, startServer } from "./server.mjs";

export const INSIGHTS_BEGIN = "<!-- insights:begin -->";
export const INSIGHTS_END = "<!-- insights:end -->";
const USERS = 100_000;
const SIGNUP_SPREAD_DAYS = 150;
const ACTIVITY_DAYS = 120;
const BATCH = 1000;
const ROUNDS = 30;
/** A slow insight is measured over fewer requests rather than holding the run for minutes. */
const MEASURE_BUDGET_MS = 30_000;
const TARGET_MS = 200;
const DAY_MS = 86_400_000;
const DAILY_CRON = "17 3 * * *";
/** Events waiting in the outbox beyond which the seed pauses (see outboxBelow). */
const MAX_BACKLOG = 3000;

/** User i signed up (i % 150) days ago: the same rule as the SQL that sets created_at. */
const signupDaysAgo = (i) => i % SIGNUP_SPREAD_DAYS;

/**
 * Each user's active days (days ago): 5 % power users (a third of their days), 25 % casual (one day in twenty),
 * 70 % seen on their sign-up day only; within the last ACTIVITY_DAYS days.
 */
function* activityOf(ids, rand) {
  for (let i = 0; i < ids.length; i++) {
    const kind = rand();
    const p = kind < 0.05 ? 0.33 : kind < 0.3 ? 0.05 : 0;
    const start = signupDaysAgo(i);
    if (start < ACTIVITY_DAYS) yield [ids[i], start];
    for (let d = Math.min(start, ACTIVITY_DAYS) - 1; d >= 0; d--) if (rand() < p) yield [ids[i], d];
  }
}

/**
 * SQL on one of the server's local D1 databases through wrangler dev's local explorer API (the same workerd and
 * storage the worker uses: nothing opens its files from outside). Rows as objects.
 */
async function sql(server, databaseId, command) {
  let response;
  for (let attempt = 1; !response; attempt++) {
    try {
      response = await fetch(`${server.origin}/cdn-cgi/explorer/api/d1/database/${databaseId}/raw`, {
        method: "POST",
        headers: { "content-type": "application/json", connection: "close" },
        body: JSON.stringify({ sql: command }),
      });
    } catch (error) {
      // a connection the dev proxy dropped: try again a few times, then give up with the cause
      if (attempt >= 3) throw new Error(`SQL request failed: ${error.cause ?? error}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`SQL failed (${response.status}): ${text.slice(0, 500)}`);
  }
  if (!response.ok || !body.success) throw new Error(`SQL failed (${response.status}): ${JSON.stringify(body)}`);
  const { columns, rows } = body.result[0].results;
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

/** The pool database the tenant was given (wrangler.toml's database ids): the one holding its users. */
async function databaseOf(server, root, userId) {
  const ids = [...readFileSync(join(root, "wrangler.toml"), "utf8").matchAll(/database_id = "([0-9a-f-]+)"/g)];
  for (const [, id] of ids) {
    try {
      const rows = await sql(server, id, `SELECT count(*) AS n FROM users WHERE id = '${userId}'`);
      if (rows[0]?.n === 1) return id;
    } catch {
      // the control database, or a pool database not migrated: not this one
    }
  }
  throw new Error("the tenant's database was not found");
}

/**
 * Waits until at most `n` of the tenant's events wait in its outbox. Each created user is an event for the local
 * queue simulator, which fails (it runs out of timers, then the dev server dies) when 100,000 are queued at once: the
 * seed goes at the pace the event consumer keeps.
 */
async function outboxBelow(server, database, n) {
  const pending = `SELECT count(*) AS n FROM outbox_events WHERE dispatched_at IS NULL AND dead_at IS NULL`;
  for (let waited = 0; waited < 600_000; waited += 500) {
    if ((await sql(server, database, pending))[0].n <= n) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the outbox did not drain to ${n} events in 10 minutes`);
}

async function timed(server, path, token) {
  const started = performance.now();
  const response = await fetch(`${server.origin}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`GET ${path} → ${response.status}`);
  return performance.now() - started;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** ROUNDS sequential requests after a warm-up, or fewer when they take more than MEASURE_BUDGET_MS in all. */
async function measure(server, path, token) {
  await timed(server, path, token); // warm
  const samples = [];
  const end = Date.now() + MEASURE_BUDGET_MS;
  while (samples.length < ROUNDS && (samples.length < 3 || Date.now() < end)) {
    samples.push(await timed(server, path, token));
  }
  samples.sort((a, b) => a - b);
  const n = samples.length;
  return { path, n, p50: percentile(samples, 50), p95: percentile(samples, 95), max: samples.at(-1) };
}

const day = (ms) => new Date(ms).toISOString().slice(0, 10);
const addDays = (d, n) => day(Date.parse(`${d}T00:00:00Z`) + n * DAY_MS);

/** How many ISO weeks and calendar months from the one holding `first` end on or before `today`. */
function closedWeeksAndMonths(first, today) {
  let n = 0;
  const weekday = (new Date(`${first}T00:00:00Z`).getUTCDay() + 6) % 7;
  for (let monday = addDays(first, -weekday); addDays(monday, 7) <= today; monday = addDays(monday, 7)) n++;
  for (let month = `${first.slice(0, 7)}-01`; ; ) {
    const date = new Date(`${month}T00:00:00Z`);
    const next = day(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
    if (next > today) break;
    n++;
    month = next;
  }
  return n;
}

/** Runs the scenario; returns its markdown section and its failures. */
export async function runInsightsScenario({ root, log, command }) {
  const env = environment();
  const started = Date.now();
  log("Insights: starting wrangler dev --test-scheduled…");
  const server = await startServer({ cwd: root, args: ["--test-scheduled"] });
  try {
    const tenant = await callApi(server, "POST", "/v1/tenants", {
      body: { name: `Bench insights ${Date.now()}`, plan: "enterprise" },
    });
    const token = tenant.apiKey.secret;
    const ids = [];
    const seedStart = Date.now();
    let database = null;
    for (let done = 0; done < USERS; done += BATCH) {
      const operations = Array.from({ length: BATCH }, (_, k) => ({
        op: "create",
        data: { email: `insights.${done + k}@example.com`, name: `Insights ${done + k}` },
      }));
      const seeded = await callApi(server, "POST", "/v1/users/bulk", { token, body: { operations } });
      ids.push(...seeded.results.map((r) => r.id));
      database ??= await databaseOf(server, root, ids[0]);
      if ((done + BATCH) % 20_000 === 0)
        log(`  ${done + BATCH} users (${((Date.now() - seedStart) / 1000).toFixed(0)} s)`);
      await outboxBelow(server, database, MAX_BACKLOG);
    }
    await outboxBelow(server, database, 100);
    const usersSeconds = (Date.now() - seedStart) / 1000;
    log(`  ${ids.length} users in ${usersSeconds.toFixed(0)} s (their user.created events sent)`);
    // created_at from the index in the name: user i signed up (i % 150) days ago, at the time it was created
    await sql(
      server,
      database,
      `UPDATE users SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at,
         '-' || (CAST(substr(name, 10) AS INTEGER) % ${SIGNUP_SPREAD_DAYS}) || ' days')`,
    );

    const now = Date.now();
    const rand = rng(8); // deterministic: two runs seed the same behaviour
    const events = [...activityOf(ids, rand)].map(([userId, daysAgo], k) => ({
      userId,
      type: k % 3 === 0 ? "report.exported" : "page.view",
      // within the day, never ahead of now
      occurredAt: new Date(
        Math.min(now - 60_000, Date.parse(day(now - daysAgo * DAY_MS)) + (k % 86_000) * 1000),
      ).toISOString(),
    }));
    const activityStart = Date.now();
    for (let i = 0; i < events.length; i += BATCH * 2) {
      await Promise.all(
        [0, BATCH].map((offset) => {
          const batch = events.slice(i + offset, i + offset + BATCH);
          return batch.length ? callApi(server, "POST", "/v1/activity", { token, body: { events: batch } }) : null;
        }),
      );
    }
    const activitySeconds = (Date.now() - activityStart) / 1000;
    log(`  ${events.length} activity events in ${activitySeconds.toFixed(0)} s`);
    // ten days per statement: each changed row runs the rollups' triggers, and one statement over every row would
    // hold the local D1 too long
    for (let daysAgo = 0; daysAgo < ACTIVITY_DAYS; daysAgo += 10) {
      await sql(
        server,
        database,
        `UPDATE activity_daily SET logins = 1
         WHERE day > '${day(now - (daysAgo + 10) * DAY_MS)}' AND day <= '${day(now - daysAgo * DAY_MS)}'
           AND abs(random()) % 3 = 0`,
      );
    }
    const [facts] = await sql(
      server,
      database,
      `SELECT (SELECT count(*) FROM activity_daily) AS activeDays, (SELECT count(*) FROM insights_daily) AS rolled`,
    );

    const from120 = day(now - ACTIVITY_DAYS * DAY_MS);
    const from400 = day(now - 399 * DAY_MS);
    const paths = [
      "/v1/insights/summary",
      "/v1/insights/activity",
      `/v1/insights/activity?from=${from120}&period=week`,
      `/v1/insights/activity?from=${from400}`,
      `/v1/insights/retention?from=${from120}`,
      `/v1/insights/retention?from=${from400}`,
    ];
    const runAll = async (label) => {
      const rows = [await measure(server, "/health", token)];
      for (const path of paths) {
        rows.push(await measure(server, path, token));
        const r = rows.at(-1);
        log(`  ${label}: ${r.path} p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms (${r.n} requests)`);
      }
      return rows;
    };
    // before the cron: one request each, which computes (and stores) the closed weeks and months it needs
    const first = [];
    for (const path of paths) {
      log(`  first request before the cron: ${path}…`);
      first.push(await timed(server, path, token));
      log(`    ${first.at(-1).toFixed(0)} ms`);
    }

    log("  running the daily cron (rollups)…");
    const cron = await fetch(`${server.origin}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(DAILY_CRON)}`);
    await cron.arrayBuffer();
    // the cron rolls up the days, then the closed weeks and months from the first sign-up on (the first requests
    // stored some of them already, and some before it): wait until each has its row
    const today = day(Date.now());
    const firstDay = day(now - (SIGNUP_SPREAD_DAYS - 1) * DAY_MS);
    const closedPeriods = closedWeeksAndMonths(firstDay, today);
    const firstWeek = addDays(firstDay, -((new Date(`${firstDay}T00:00:00Z`).getUTCDay() + 6) % 7));
    let rolled = 0;
    let periods = 0;
    for (let tries = 0; tries < 150 && periods < closedPeriods; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      [{ rolled, periods }] = await sql(
        server,
        database,
        `SELECT (SELECT count(*) FROM insights_daily) AS rolled,
                (SELECT count(*) FROM insights_periods
                 WHERE (period = 'week' AND start >= '${firstWeek}')
                    OR (period = 'month' AND start >= '${firstDay.slice(0, 8)}01')) AS periods`,
      );
    }
    log(`  ${rolled} days, ${periods} of ${closedPeriods} weeks and months rolled up (cron answered ${cron.status})`);
    const withRollups = await runAll("rolled up");

    const summary = await callApi(server, "GET", "/v1/insights/summary", { token });
    const activity = await callApi(server, "GET", `/v1/insights/activity?from=${from120}&period=week`, { token });
    const failures = [];
    if (rolled === 0) failures.push("the daily cron rolled up no day");
    if (periods < closedPeriods) failures.push(`the daily cron rolled up ${periods} of ${closedPeriods} periods`);
    const worst = Math.max(...withRollups.slice(1).map((r) => r.p95));
    const markdown = insightsMarkdown({
      env,
      command,
      server: server.printableCommand,
      seed: { users: ids.length, usersSeconds, events: events.length, activitySeconds, ...facts, rolled, periods },
      first,
      withRollups,
      summary,
      activity,
      worst,
      seconds: (Date.now() - started) / 1000,
    });
    return { markdown, failures, verdict: { met: worst <= TARGET_MS, worst } };
  } catch (error) {
    log(`wrangler dev log (tail):\n${server.logTail(60)}`);
    throw error;
  } finally {
    await server.stop();
  }
}

const ms = (n) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;

function insightsMarkdown({ env, command, server, seed, first, withRollups, summary, activity, worst, seconds }) {
  const rows = withRollups.map((r, i) => {
    const cold = i === 0 ? "" : ms(first[i - 1]);
    return `| \`${r.path}\` | ${cold} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${r.n} |`;
  });
  return [
    "## Insights at 100,000 users",
    "",
    `Run ${new Date().toISOString()} (${seconds.toFixed(0)} s) by \`${command}\`; server \`${server}\`.`,
    `Machine: ${env.os}; ${env.cpu}, ${env.cores} cores; load average at start ${env.loadAtStart} (other agents ` +
      `shared the machine); Node ${env.node}, wrangler ${env.wrangler}.`,
    "",
    `Seed: ${seed.users.toLocaleString("en-US")} users (bulk, ${seed.usersSeconds.toFixed(0)} s), sign-ups spread ` +
      `over ${SIGNUP_SPREAD_DAYS} days; ${seed.events.toLocaleString("en-US")} product events over ${ACTIVITY_DAYS} ` +
      `days (POST /v1/activity, ${seed.activitySeconds.toFixed(0)} s) making ` +
      `${Number(seed.activeDays).toLocaleString("en-US")} user-days of activity_daily, a third of them given one ` +
      `login; ${seed.rolled} closed days and ${seed.periods} closed weeks and months rolled up by the daily cron.`,
    `Figures: ${summary.totalUsers} users, ${summary.activeUsers} active in 30 days; DAU ${activity.dau}, WAU ` +
      `${activity.wau}, MAU ${activity.mau}, stickiness ${(activity.stickiness ?? 0).toFixed(3)}.`,
    "",
    "Before the cron, one request per insight: it computes the closed weeks and months it needs from " +
      "`activity_daily` and stores them (read-through), so it is the cost of a large tenant's first read. After the " +
      `cron, one connection, ${ROUNDS} sequential requests per row after one warm-up, fewer when they took more than ` +
      `${MEASURE_BUDGET_MS / 1000} s in all (client-side latency, through the dev proxy).`,
    "",
    "| request | first, before the cron | p50 | p95 | max | requests |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    `Target (issue 8 §2): each insight ≤ ${TARGET_MS} ms. ${worst <= TARGET_MS ? "Met" : "MISSED"}: the worst p95 ` +
      `with rollups is ${ms(worst)}.`,
  ].join("\n");
}
