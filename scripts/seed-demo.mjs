// The churn demo tenant (`npm run seed:demo`): creates an enterprise tenant on a running service and gives it the
// synthetic behaviour of scripts/demo-data.mjs (cohorts with known churn hazards, sign-ups over ~180 days), all
// through the public API: users by POST /v1/users/bulk, their history by POST /v1/activity with past occurredAt.
// Then trains the churn model (POST /v1/insights/churn/model/train) and prints the tenant, its key, the ground truth
// and the model's holdout figures beside the recency baseline's.
//
// Options: --url <origin> (http://127.0.0.1:8787) --admin-token <t> (default: ADMIN_TOKEN from .dev.vars)
//          --users <n> (2000) --days <n> (180) --seed <n> (20261128) --no-train
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { generateDemo } from "./demo-data.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One JSON call; a 429 waits its Retry-After and tries again; any other non-2xx throws with the body. */
async function request(origin, token, method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.status === 429 && attempt < 20) {
      await sleep(1000 * Number(response.headers.get("retry-after") ?? 1));
      continue;
    }
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  }
}

/**
 * Seeds a new demo tenant on the service at `origin` and (unless `train` is false) trains its churn model.
 * Returns the tenant, its key, the ground truth, the model report, and how long each part took.
 */
export async function seedDemoTenant(
  origin,
  adminToken,
  { users = 2000, days = 180, seed = 20261128, train = true, log = () => {} } = {},
) {
  const demo = generateDemo({ users, days, seed });
  const tenant = await request(origin, adminToken, "POST", "/v1/tenants", {
    name: `Churn demo (seed ${seed})`,
    plan: "enterprise",
  });
  const key = tenant.apiKey.secret;
  const started = Date.now();
  for (let i = 0; i < demo.users.length; i += 1000) {
    const chunk = demo.users.slice(i, i + 1000);
    const { results } = await request(origin, key, "POST", "/v1/users/bulk", {
      operations: chunk.map((u) => ({ op: "create", data: { email: u.email, externalId: u.externalId } })),
    });
    const failed = results.filter((r) => r.status !== 201);
    if (failed.length > 0) throw new Error(`${failed.length} users not created: ${JSON.stringify(failed[0])}`);
  }
  log(`  ${demo.users.length} users created`);
  for (let i = 0; i < demo.events.length; i += 1000) {
    await request(origin, key, "POST", "/v1/activity", { events: demo.events.slice(i, i + 1000) });
    if ((i / 1000) % 20 === 19) log(`  ${i + 1000} of ${demo.events.length} events`);
  }
  const seededMs = Date.now() - started;
  log(`  ${demo.events.length} events recorded in ${(seededMs / 1000).toFixed(1)} s`);
  let model = null;
  let trainMs = null;
  if (train) {
    const t = Date.now();
    model = await request(origin, key, "POST", "/v1/insights/churn/model/train");
    trainMs = Date.now() - t;
  }
  return {
    tenantId: tenant.id,
    key,
    users: demo.users.length,
    events: demo.events.length,
    truth: demo.truth,
    model,
    seededMs,
    trainMs,
  };
}

function adminTokenFromDevVars() {
  try {
    return readFileSync(join(root, ".dev.vars"), "utf8")
      .match(/^ADMIN_TOKEN=(.*)$/m)?.[1]
      ?.trim();
  } catch {
    return undefined;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:8787" },
      "admin-token": { type: "string" },
      users: { type: "string", default: "2000" },
      days: { type: "string", default: "180" },
      seed: { type: "string", default: "20261128" },
      "no-train": { type: "boolean", default: false },
    },
  });
  const adminToken = values["admin-token"] ?? adminTokenFromDevVars();
  if (!adminToken) throw new Error("No admin token: pass --admin-token or run `npm run dev` once to create .dev.vars.");
  console.log(`Seeding the churn demo tenant on ${values.url}…`);
  const result = await seedDemoTenant(values.url, adminToken, {
    users: Number(values.users),
    days: Number(values.days),
    seed: Number(values.seed),
    train: !values["no-train"],
    log: console.log,
  });
  console.log(`\nTenant ${result.tenantId}\nAPI key ${result.key}\n`);
  console.log("Ground truth (cohort: users, weekly hazard, daily activity rate, left, left in the last 30 days):");
  for (const [name, t] of Object.entries(result.truth)) {
    console.log(
      `  ${name.padEnd(7)} ${String(t.users).padStart(5)}  ${(t.weeklyHazard * 100).toFixed(0).padStart(2)}%/week  ${t.activeDayRate}  ${t.left}  ${t.leftInLast30Days}`,
    );
  }
  if (result.model) {
    const m = result.model;
    console.log(
      `\nChurn model: ${m.trainingRows} training rows over ${m.cutoffs.training.length} cut-offs, ${m.holdoutRows} holdout rows`,
    );
    console.log(
      `  AUC ${m.auc} (recency baseline ${m.baseline.auc}); precision@${m.k} ${m.precisionAtK} (baseline ${m.baseline.precisionAtK})`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
