// The identity figures of `npm run bench` (issue 3): what one password hash costs on its own, what a password
// login costs around it, and how fast client-credentials grants go against the ceiling route.
import { join } from "node:path";
import { loadWranglerEnv, randomBase64 } from "../scripts/env.mjs";

const HASH_SAMPLES = 40;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(fetchOnce) {
  const started = performance.now();
  const response = await fetchOnce();
  await response.text();
  if (!response.ok) throw new Error(`${response.url} → ${response.status}`);
  return performance.now() - started;
}

const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** The hash-only worker (bench/hash-worker.ts) in workerd: `time(path)` times one request to it. */
export async function startHashWorker(root) {
  loadWranglerEnv();
  const { unstable_startWorker: startWorker } = await import("wrangler");
  const worker = await startWorker({
    config: join(root, "bench/hash-worker.wrangler.toml"),
    envFiles: [],
    bindings: { MASTER_KEY: { type: "secret_text", value: randomBase64(32) } },
    dev: { remote: false, persist: false, watch: false, inspector: false, logLevel: "warn", server: { port: 0 } },
  });
  await worker.ready;
  return {
    time: (path) => timed(() => worker.fetch(`http://localhost${path}`)),
    phc: async () => (await worker.fetch("http://localhost/hash")).text(),
    stop: () => worker.dispose(),
  };
}

/**
 * p50/p99 of one hash in workerd: the hash worker hashes per request; the cost is the request's time minus the
 * median of a no-op request to the same worker, one request at a time.
 */
export async function measureHashCost(hashWorker) {
  for (let i = 0; i < 5; i++) await hashWorker.time("/hash"); // warm-up: JIT, key derivation caches
  const phc = await hashWorker.phc();
  const noop = [];
  const hash = [];
  for (let i = 0; i < HASH_SAMPLES; i++) {
    noop.push(await hashWorker.time("/noop"));
    hash.push(await hashWorker.time("/hash"));
  }
  const base = median(noop);
  const cost = hash.map((t) => t - base).sort((a, b) => a - b);
  // ten at once: one isolate runs them one after another, which bounds logins per second per isolate
  const started = performance.now();
  await Promise.all(Array.from({ length: 10 }, () => hashWorker.time("/hash")));
  const tenAtOnce = performance.now() - started;
  return { phc, p50: percentile(cost, 50), p99: percentile(cost, 99), samples: HASH_SAMPLES, tenAtOnce };
}

/**
 * What a login costs beyond its hash, from paired samples taken one after another in the same minutes (so
 * machine noise hits both sides alike): a login through wrangler dev, a hash alone in the hash worker, and
 * GET /health through the same dev proxy. Overhead = median(login) − median(hash) − median(health).
 */
export async function measureLoginOverhead(hashWorker, origin, login) {
  const logins = [];
  const hashes = [];
  const healths = [];
  const loginOnce = () =>
    timed(() => fetch(`${origin}${login.path}`, { method: "POST", headers: login.headers, body: login.body }));
  for (let i = 0; i < 3; i++) await loginOnce();
  for (let i = 0; i < HASH_SAMPLES; i++) {
    logins.push(await loginOnce());
    hashes.push(await hashWorker.time("/hash"));
    healths.push(await timed(() => fetch(`${origin}/health`)));
  }
  const [l, h, c] = [median(logins), median(hashes), median(healths)];
  return { login: l, hash: h, health: c, overhead: l - h - c, samples: HASH_SAMPLES };
}

/**
 * Users with passwords, one per connection (a throttle counts an account's logins in flight as failures until they
 * end, so ten simultaneous logins of ONE account would lock it — as they should), and a confidential client
 * allowed the password and client-credentials grants.
 */
export async function seedIdentity(api, token, nextEmail, users = 10) {
  const password = `bench password ${randomBase64(6)}`;
  const emails = [];
  for (let i = 0; i < users; i++) {
    const email = nextEmail();
    await api("POST", "/v1/users", { token, body: { email, password, roles: ["basic"] } });
    emails.push(email);
  }
  const client = await api("POST", "/v1/oauth/clients", {
    token,
    body: { name: "Bench client", grantTypes: ["client_credentials", "password", "refresh_token"], roles: ["manager"] },
  });
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString("base64")}`;
  const headers = { "content-type": "application/x-www-form-urlencoded", authorization: basic };
  const loginBody = (email) => new URLSearchParams({ grant_type: "password", username: email, password }).toString();
  let next = 0;
  return {
    login: { method: "POST", path: "/oauth/token", headers, body: loginBody(emails[0]) },
    /** Each request logs in the next user of the pool in turn. */
    loginRotating: {
      method: "POST",
      path: "/oauth/token",
      headers,
      setupRequest: (request) => ({ ...request, body: loginBody(emails[next++ % emails.length]) }),
    },
    clientCredentials: {
      method: "POST",
      path: "/oauth/token",
      headers,
      body: new URLSearchParams({ grant_type: "client_credentials" }).toString(),
    },
  };
}
