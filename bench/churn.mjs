// Churn model evaluation: starts the worker under `wrangler dev` (bench/server.mjs), seeds the demo tenant
// (scripts/seed-demo.mjs: 2,000 users over 180 days, seeded), trains the churn model and writes its holdout figures
// beside the recency-only baseline's into bench/results.md, between the churn markers. Part of `npm run bench` (after
// the insights; --skip-churn, --only-churn), or alone: `npm run bench:churn`.
// Options of `npm run bench:churn`: --users <n> (2000) --days <n> (180) --seed <n> (20261128) --no-write
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { seedDemoTenant } from "../scripts/seed-demo.mjs";
import { startServer } from "./server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(root, "bench", "results.md");
export const CHURN_BEGIN = "<!-- churn:begin -->";
export const CHURN_END = "<!-- churn:end -->";
const DEFAULTS = { users: 2000, days: 180, seed: 20261128 };

const pct = (x) => (x === null ? "n/a" : x.toFixed(4));

function markdown(result, command, values) {
  const m = result.model;
  const truth = Object.entries(result.truth)
    .map(
      ([name, t]) =>
        `| ${name} | ${t.users} | ${(t.weeklyHazard * 100).toFixed(0)}% | ${t.activeDayRate} | ${t.left} | ${t.leftInLast30Days} |`,
    )
    .join("\n");
  return `## Churn model (demo tenant)

${new Date().toISOString().slice(0, 10)}, \`${command}\`: the demo tenant of \`npm run seed:demo\` (seed ${values.seed}:
${result.users} users signed up over ${values.days} days, ${result.events} product events, all through the API),
then \`POST /v1/insights/churn/model/train\` (${(result.trainMs / 1000).toFixed(1)} s). Definitions in docs/churn.md.

| | AUC | precision@k (k = ${m.k}) |
| --- | --- | --- |
| model (logistic regression, ${m.features.length} features) | ${pct(m.auc)} | ${pct(m.precisionAtK)} |
| recency-only baseline | ${pct(m.baseline.auc)} | ${pct(m.baseline.precisionAtK)} |

- Training: ${m.trainingRows} rows over ${m.cutoffs.training.length} weekly cut-offs, ${m.cutoffs.training[0]?.slice(0, 10)} to
  ${m.cutoffs.training.at(-1)?.slice(0, 10)} (churn rate ${m.churnRate.training}).
- Holdout: ${m.holdoutRows} rows at ${m.cutoffs.holdout.map((c) => c.slice(0, 10)).join(" and ")} (churn rate ${m.churnRate.holdout});
  every training cut-off's 30-day label window ends before the first holdout cut-off.
- Coefficients (standardised log1p features): ${Object.entries(m.coefficients)
    .map(([f, c]) => `${f} ${c.toFixed(2)}`)
    .join(", ")}.

Ground truth of the demo:

| cohort | users | weekly hazard | daily activity | left | left in the last 30 days |
| --- | --- | --- | --- | --- | --- |
${truth}`;
}

/**
 * Seeds the demo tenant on a worker of its own, trains the model; returns the section and its failures (the model
 * must beat the recency-only baseline's AUC: issue 8 §4).
 */
export async function runChurnScenario({ log, command, users, days, seed } = {}) {
  const values = { users: users ?? DEFAULTS.users, days: days ?? DEFAULTS.days, seed: seed ?? DEFAULTS.seed };
  log(`Churn: starting wrangler dev; seeding the demo tenant (${values.users} users over ${values.days} days)…`);
  const server = await startServer({ cwd: root });
  try {
    const result = await seedDemoTenant(server.origin, server.adminToken, { ...values, log });
    const { auc, baseline } = result.model;
    const failures =
      auc > baseline.auc ? [] : [`churn: the model's AUC ${auc} does not beat the baseline's ${baseline.auc}`];
    return { markdown: markdown(result, command, values), failures, verdict: { auc, baseline: baseline.auc } };
  } finally {
    await server.stop();
  }
}

/** Replaces the churn section of bench/results.md (`npm run bench` writes it with the rest: mergeResults). */
export function writeChurnSection(markdown) {
  const section = `${CHURN_BEGIN}\n${markdown}\n${CHURN_END}`;
  const current = readFileSync(RESULTS, "utf8");
  const start = current.indexOf(CHURN_BEGIN);
  const end = current.indexOf(CHURN_END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + CHURN_END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS, next);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: String(DEFAULTS.users) },
      days: { type: "string", default: String(DEFAULTS.days) },
      seed: { type: "string", default: String(DEFAULTS.seed) },
      "no-write": { type: "boolean", default: false },
    },
  });
  const command = `npm run bench:churn${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const churn = await runChurnScenario({
    log: console.log,
    command,
    users: Number(values.users),
    days: Number(values.days),
    seed: Number(values.seed),
  });
  console.log(`\n${churn.markdown}`);
  if (!values["no-write"]) writeChurnSection(churn.markdown);
  for (const failure of churn.failures) console.error(failure);
  process.exitCode = churn.failures.length > 0 ? 1 : 0;
}
