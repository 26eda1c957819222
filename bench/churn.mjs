// Churn model evaluation (`npm run bench:churn`): starts the worker under `wrangler dev` (bench/server.mjs), seeds the
// demo tenant (scripts/seed-demo.mjs: 2,000 users over 180 days, seeded), trains the churn model and writes its
// holdout figures beside the recency-only baseline's into bench/results.md, between the churn markers.
// Options: --users <n> (2000) --days <n> (180) --seed <n> (20261128) --no-write
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { seedDemoTenant } from "../scripts/seed-demo.mjs";
import { startServer } from "./server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(root, "bench", "results.md");
const BEGIN = "<!-- churn:begin -->";
const END = "<!-- churn:end -->";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "2000" },
    days: { type: "string", default: "180" },
    seed: { type: "string", default: "20261128" },
    "no-write": { type: "boolean", default: false },
  },
});

const pct = (x) => (x === null ? "n/a" : x.toFixed(4));

function markdown(result, command) {
  const m = result.model;
  const truth = Object.entries(result.truth)
    .map(
      ([name, t]) =>
        `| ${name} | ${t.users} | ${(t.weeklyHazard * 100).toFixed(0)}% | ${t.activeDayRate} | ${t.left} | ${t.leftInLast30Days} |`,
    )
    .join("\n");
  return `${BEGIN}
## Churn model (demo tenant)

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
${truth}
${END}`;
}

function writeSection(section) {
  const current = readFileSync(RESULTS, "utf8");
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS, next);
}

const server = await startServer({ cwd: root });
process.on("exit", () => server.stopSync());
try {
  console.log(`wrangler dev at ${server.origin}; seeding the demo tenant…`);
  const result = await seedDemoTenant(server.origin, server.adminToken, {
    users: Number(values.users),
    days: Number(values.days),
    seed: Number(values.seed),
    log: console.log,
  });
  const command = `npm run bench:churn${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const section = markdown(result, command);
  console.log(`\n${section}`);
  if (!values["no-write"]) writeSection(section);
} finally {
  await server.stop();
}
