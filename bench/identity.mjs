// The identity figures of `npm run bench` (issue 3): what one password hash costs on its own, what a password
// login costs around it, and how fast client-credentials grants go against the ceiling route.
import { join } from "node:path";
import { loadWranglerEnv, randomBase64 } from "../scripts/env.mjs";

const HASH_SAMPLES = 40;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * p50/p99 of one hash in workerd: a tiny worker (bench/hash-worker.ts) hashes per request; the cost is the
 * request's time minus the median of a no-op request to the same worker, one request at a time.
 */
export async function measureHashCost(root) {
  loadWranglerEnv();
  const { unstable_startWorker: startWorker } = await import("wrangler");
  const worker = await startWorker({
    name: "uom-bench-hash",
    entrypoint: join(root, "bench/hash-worker.ts"),
    compatibilityDate: "2026-04-26",
    compatibilityFlags: ["nodejs_compat"],
    bindings: { MASTER_KEY: { type: "secret_text", value: randomBase64(32) } },
    dev: { remote: false, persist: false, watch: false, inspector: false, logLevel: "warn", server: { port: 0 } },
  });
  try {
    await worker.ready;
    const time = async (path) => {
      const started = performance.now();
      const response = await worker.fetch(`http://localhost${path}`);
      await response.text();
      if (!response.ok) throw new Error(`hash worker ${path} → ${response.status}`);
      return performance.now() - started;
    };
    for (let i = 0; i < 5; i++) await time("/hash"); // warm-up: JIT, key derivation caches
    const phc = await (await worker.fetch("http://localhost/hash")).text();
    const noop = [];
    const hash = [];
    for (let i = 0; i < HASH_SAMPLES; i++) {
      noop.push(await time("/noop"));
      hash.push(await time("/hash"));
    }
    noop.sort((a, b) => a - b);
    const base = percentile(noop, 50);
    const cost = hash.map((t) => t - base).sort((a, b) => a - b);
    // ten at once: one isolate runs them one after another, which bounds logins per second per isolate
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => time("/hash")));
    const tenAtOnce = performance.now() - started;
    return { phc, p50: percentile(cost, 50), p99: percentile(cost, 99), samples: HASH_SAMPLES, tenAtOnce };
  } finally {
    await worker.dispose();
  }
}

/** A user with a password and a confidential client allowed the password and client-credentials grants. */
export async function seedIdentity(api, token, nextEmail) {
  const password = `bench password ${randomBase64(6)}`;
  const email = nextEmail();
  await api("POST", "/v1/users", { token, body: { email, password, roles: ["basic"] } });
  const client = await api("POST", "/v1/oauth/clients", {
    token,
    body: { name: "Bench client", grantTypes: ["client_credentials", "password", "refresh_token"], roles: ["manager"] },
  });
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString("base64")}`;
  const form = { "content-type": "application/x-www-form-urlencoded", authorization: basic };
  return {
    login: {
      method: "POST",
      path: "/oauth/token",
      headers: form,
      body: new URLSearchParams({ grant_type: "password", username: email, password }).toString(),
    },
    clientCredentials: {
      method: "POST",
      path: "/oauth/token",
      headers: form,
      body: new URLSearchParams({ grant_type: "client_credentials" }).toString(),
    },
  };
}
