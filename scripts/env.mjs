// Shared by the scripts: the environment that keeps wrangler off the network (the committed .env), and a
// few helpers. Only Node built-ins, so the scripts run right after `npm install`.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** KEY=value lines of a dotenv file (no interpolation; quotes around a value are removed). */
export function parseDotenv(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[match[1]] = value;
  }
  return vars;
}

/**
 * Puts the committed .env into process.env (values already set win), so that wrangler, and every
 * process started from here, sends no metrics or error reports and fetches nothing at startup.
 */
export function loadWranglerEnv() {
  const file = join(ROOT, ".env");
  if (!existsSync(file)) return;
  for (const [key, value] of Object.entries(parseDotenv(readFileSync(file, "utf8")))) {
    if (process.env[key] === undefined) process.env[key] = value;
  }
}

/** Random bytes, base64. */
export function randomBase64(bytes) {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64");
}

/** Random bytes, hex (safe in a shell word and an Authorization header). */
export function randomHex(bytes) {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/** The wrangler CLI of this project, to run with the current Node binary. */
export function wranglerBin() {
  return join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
}
