// `npm run tenants:provision -- --count N [--write] [--location <hint>] [--config wrangler.toml]`
//
// Grows the tenant database pool by N: the next pool numbers after the highest TENANT_DB_<n> in
// wrangler.toml each get a D1 database `uom-tenant-<n>` and a `[[d1_databases]]` entry with binding
// TENANT_DB_<n>. Nothing needs migrating here: the worker brings every database to the current schema itself,
// the first time it uses it (src/core/db/migrate.ts), and registers new bindings in the pool at startup.
//
// Dry run by default: prints the commands and the entries, changes nothing. With --write:
// - CLOUDFLARE_API_TOKEN set: runs `wrangler d1 create uom-tenant-<n>` for each and appends the entry with the
//   real database_id right after each creation (so a failure half-way loses nothing);
// - no token (no Cloudflare account): appends entries with local placeholder ids, which is all `wrangler dev`
//   and the tests need; before a production deploy, run again with a token on a config whose ids are real.
// Then deploy (`wrangler deploy`): new bindings take effect with the new version.
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { loadWranglerEnv, ROOT, wranglerBin } from "./env.mjs";

const USAGE = "usage: npm run tenants:provision -- --count N [--write] [--location weur|eeur|apac|oc|wnam|enam]";
const MAX_COUNT = 1000;

function fail(message) {
  console.error(`tenants:provision: ${message}`);
  process.exit(1);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      count: { type: "string" },
      write: { type: "boolean", default: false },
      location: { type: "string" },
      config: { type: "string", default: "wrangler.toml" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }));
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = Number(options.count);
if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) fail(`--count must be 1..${MAX_COUNT}\n${USAGE}`);

loadWranglerEnv();
const configPath = isAbsolute(options.config) ? options.config : join(ROOT, options.config);
const configName = relative(process.cwd(), configPath) || configPath;
const toml = readFileSync(configPath, "utf8");
const existing = [...toml.matchAll(/^\s*binding\s*=\s*"TENANT_DB_(\d+)"/gm)].map((m) => Number(m[1]));
const first = (existing.length ? Math.max(...existing) : 0) + 1;
const numbers = Array.from({ length: count }, (_, i) => first + i);
const hasAccount = Boolean(process.env.CLOUDFLARE_API_TOKEN);

/** The committed config's convention for ids that exist only locally (`wrangler dev`, tests). */
function placeholderId(n) {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

function entry(n, databaseId) {
  return `\n[[d1_databases]]\nbinding = "TENANT_DB_${n}"\ndatabase_name = "uom-tenant-${n}"\ndatabase_id = "${databaseId}"\n`;
}

function createArgs(n) {
  return ["d1", "create", `uom-tenant-${n}`, ...(options.location ? ["--location", options.location] : [])];
}

function wrangler(args) {
  const bin = process.env.UOM_WRANGLER_BIN ?? wranglerBin(); // override for testing this script
  const run = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
  return { ok: run.status === 0, output: `${run.stdout ?? ""}${run.stderr ?? ""}` };
}

/** Creates the database; when it already exists (an earlier run stopped half-way), finds its id instead. */
function createDatabase(n) {
  const name = `uom-tenant-${n}`;
  const created = wrangler(createArgs(n));
  const id = /database_id["']?\s*[:=]\s*["']([0-9a-f-]{36})["']/i.exec(created.output)?.[1];
  if (created.ok && id) {
    console.log(`  created ${name} (${id})`);
    return id;
  }
  const listed = wrangler(["d1", "list", "--json"]);
  if (listed.ok) {
    try {
      const found = JSON.parse(listed.output.slice(listed.output.indexOf("["))).find((db) => db.name === name);
      if (found?.uuid) {
        console.log(`  ${name} already exists (${found.uuid}); using it.`);
        return found.uuid;
      }
    } catch {
      // fall through to the error below
    }
  }
  fail(`wrangler d1 create ${name} failed:\n${created.output.trim()}`);
}

const range = count === 1 ? `TENANT_DB_${first}` : `TENANT_DB_${first} … TENANT_DB_${first + count - 1}`;
console.log(
  `Tenant database pool: ${existing.length} declared in ${configName}; adding ${count} (${range}).${options.write ? "" : " Dry run: nothing is changed."}\n`,
);

if (!options.write) {
  console.log(
    hasAccount
      ? "With --write, these run against your Cloudflare account:\n"
      : "No CLOUDFLARE_API_TOKEN (no Cloudflare account). With a token, --write runs:\n",
  );
  for (const n of numbers) console.log(`  npx wrangler ${createArgs(n).join(" ")}`);
  console.log(`\nand appends to ${configName}, each with the database_id its create printed:`);
  for (const n of numbers) process.stdout.write(entry(n, "<database_id>"));
  if (!hasAccount) {
    console.log(
      `\nWithout a token, --write appends the same entries with local placeholder ids (${placeholderId(first)}, …),`,
    );
    console.log("enough for wrangler dev and the tests.");
  }
} else {
  if (!hasAccount) {
    console.log(
      "No CLOUDFLARE_API_TOKEN: appending entries with local placeholder ids (fine for wrangler dev and tests;",
    );
    console.log("production needs real ids: run this again with a token, or `wrangler d1 create` and edit the ids).\n");
  }
  for (const n of numbers) {
    const databaseId = hasAccount ? createDatabase(n) : placeholderId(n);
    appendFileSync(configPath, entry(n, databaseId));
    console.log(`  appended TENANT_DB_${n} to ${configName}`);
  }
}

console.log(`
Nothing to migrate by hand (no \`wrangler d1 migrations apply\`): the worker registers every declared
TENANT_DB_<n> in the pool on its first request, and brings each database to the current schema itself when it
first uses it (when a tenant is created on it). ${options.write ? "Next: `npm run types`, then deploy (`npx wrangler deploy`)." : "Run again with --write to do it."}`);
