// `npm run keys:rotate -- --tenant <id> [--url http://localhost:8787] [--continue]`: rotates a tenant's data key
// on a running server (`npm run dev`, or a deployment) and re-encrypts every user before it returns.
// POST /v1/tenants/{id}/data-keys/rotate makes a new active key and re-encrypts a bounded share of the users;
// this script then calls it with `newVersion: false` until none is left under an older key (the per-minute cron
// would do the same, but `wrangler dev` does not run crons by itself). `--continue` skips the new version: it only
// finishes an earlier rotation (or encrypts rows left in plaintext by a database older than tenant migration 5).
// The admin token comes from ADMIN_TOKEN in the environment, else from .dev.vars.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDotenv, ROOT } from "./env.mjs";

function flag(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

function adminToken() {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const file = join(ROOT, ".dev.vars");
  return existsSync(file) ? parseDotenv(readFileSync(file, "utf8")).ADMIN_TOKEN : undefined;
}

function fail(message) {
  console.error(`keys:rotate: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const tenant = flag(args, "tenant");
const origin = (flag(args, "url") ?? process.env.UOM_URL ?? "http://localhost:8787").replace(/\/+$/, "");
const token = adminToken();
if (!tenant) fail("usage: npm run keys:rotate -- --tenant <tenant id> [--url <origin>] [--continue]");
if (!token) fail("no admin token: set ADMIN_TOKEN, or run `npm run dev` once to create .dev.vars");

async function rotate(newVersion) {
  let response;
  try {
    response = await fetch(`${origin}/v1/tenants/${encodeURIComponent(tenant)}/data-keys/rotate`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ newVersion }),
    });
  } catch (error) {
    fail(`cannot reach ${origin} (${error instanceof Error ? error.message : error}); is \`npm run dev\` running?`);
  }
  const text = await response.text();
  if (response.status !== 200) fail(`${response.status} from ${origin}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

let progress = await rotate(!args.includes("--continue"));
let total = progress.reencrypted;
console.log(`keys:rotate: tenant ${tenant} now uses data key v${progress.version}`);
while (progress.remaining > 0) {
  console.log(`keys:rotate: ${total} users re-encrypted, ${progress.remaining} to go`);
  progress = await rotate(false);
  total += progress.reencrypted;
  if (progress.reencrypted === 0 && progress.remaining > 0) {
    fail(`${progress.remaining} users could not be re-encrypted (see the server log); the cron retries them`);
  }
}
console.log(`keys:rotate: done, ${total} users re-encrypted; older key versions are retired`);
