import { createHash } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomHex } from "../scripts/env.mjs";
import { startRedis } from "../scripts/redis-server.mjs";
import { startUpstashProxy, type UpstashProxy } from "../scripts/upstash-rest-proxy.mjs";

// The tooling behind the `upstash` rate-limit backend's tests: scripts/upstash-rest-proxy.mjs in front of a real
// redis-server (scripts/redis-server.mjs), driven by the real @upstash/redis and @upstash/ratelimit clients. It needs
// neither the e2e worker nor the workers pool: it starts its own Redis and proxy.
// The client sends a command two ways: batched with the others of the same tick into POST /pipeline (its default,
// `enableAutoPipelining`), or alone as POST / — the tests go both ways. Both ask for base64 (`responseEncoding`).

let redisServer: Awaited<ReturnType<typeof startRedis>>;
let proxy: UpstashProxy;
/** The client as the worker's defaults have it: auto-pipelined, base64. */
let redis: Redis;
/** One command a request (POST /). */
let single: Redis;

beforeAll(async () => {
  redisServer = await startRedis();
  proxy = await startUpstashProxy({ redisPort: redisServer.port, token: randomHex(16) });
  redis = new Redis({ url: proxy.url, token: proxy.token });
  single = new Redis({ url: proxy.url, token: proxy.token, enableAutoPipelining: false });
});

afterAll(async () => {
  await proxy?.close();
  await redisServer?.close();
});

const key = (name: string) => `${name}:${randomHex(6)}`;

/** The proxy over plain HTTP, to see the wire format itself. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${proxy.token}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe("@upstash/redis through the proxy", () => {
  it("sets and gets", async () => {
    const k = key("plain");
    expect(await redis.set(k, "value")).toBe("OK");
    expect(await redis.get(k)).toBe("value");
    expect(await redis.incr(`${k}:n`)).toBe(1);
    expect(await redis.get(key("missing"))).toBeNull();
    await redis.set(`${k}:json`, { a: 1, b: ["x"] });
    expect(await redis.get(`${k}:json`)).toEqual({ a: 1, b: ["x"] });
  });

  it("runs a pipeline, errors in place", async () => {
    const k = key("pipeline");
    const results = await redis.pipeline().set(k, "a").append(k, "b").get(k).incr(k).exec({ keepErrors: true });
    expect(results.slice(0, 3)).toEqual([
      { result: "OK", error: undefined },
      { result: 2, error: undefined },
      { result: "ab", error: undefined },
    ]);
    expect(results[3]?.error).toMatch(/^ERR value is not an integer/);
    await expect(redis.pipeline().get(k).incr(k).exec()).rejects.toThrow(/Command 2 \[ incr \] failed: ERR/);
  });

  it("runs multi() as one transaction", async () => {
    const k = key("multi");
    expect(await redis.multi().set(k, 1).incr(k).incrby(k, 5).get(k).exec()).toEqual(["OK", 2, 7, 7]);
    // a command refused while queueing discards everything (Redis's EXECABORT); the proxy answers like Upstash
    const discarded = await post("/multi-exec", [
      ["SET", k, "lost"],
      ["NOSUCHCOMMAND", k],
    ]);
    expect(discarded).toEqual({ status: 400, body: { error: expect.stringMatching(/^ERR unknown command/) } });
    expect(await redis.get(k)).toBe(7);
  });

  it("refuses a wrong token with 401 and an error", async () => {
    for (const enableAutoPipelining of [true, false]) {
      const wrong = new Redis({ url: proxy.url, token: "wrong", retry: false, enableAutoPipelining });
      await expect(wrong.get("anything")).rejects.toThrow(/WRONGPASS/);
    }
    expect(await post("/", ["PING"], { authorization: "Bearer wrong" })).toEqual({
      status: 401,
      body: { error: "WRONGPASS invalid or missing auth token" },
    });
  });

  it("answers a failed command with 400 and {error}", async () => {
    await expect(single.eval("return redis.error_reply('ERR from lua')", [], [])).rejects.toThrow(/^ERR from lua/);
    expect(await post("/", ["GET"])).toEqual({
      status: 400,
      body: { error: "ERR wrong number of arguments for 'get' command" },
    });
  });

  it("round-trips non-ASCII and binary-ish strings with base64 on and off, pipelined or not", async () => {
    const values = ["héllo wörld ✓ 日本語 🎉", "\u0000\u0001\u0002\u007f\u00ff\r\n\t", "OK", "YmFy", " ", "a\u0000b"];
    const clients = [true, false].flatMap((enableAutoPipelining) =>
      (["base64", false] as const).map(
        (responseEncoding) => new Redis({ url: proxy.url, token: proxy.token, responseEncoding, enableAutoPipelining }),
      ),
    );
    for (const client of clients) {
      const k = key("bytes");
      for (const [i, value] of values.entries()) await client.set(`${k}:${i}`, value);
      expect(await Promise.all(values.map((_, i) => client.get(`${k}:${i}`)))).toEqual(values);
      // nested arrays: a list and a hash
      await client.rpush(`${k}:list`, ...values);
      expect(await client.lrange(`${k}:list`, 0, -1)).toEqual(values);
      await client.hset(`${k}:hash`, { "ключ ✓": values[0], ok: "OK" });
      expect(await client.hgetall(`${k}:hash`)).toEqual({ "ключ ✓": values[0], ok: "OK" });
    }
  });

  it("encodes every string in base64 but a top-level OK; integers and null stay", async () => {
    const k = key("wire");
    const base64 = { "upstash-encoding": "base64" };
    expect(await post("/", ["SET", k, "bar"], base64)).toEqual({ status: 200, body: { result: "OK" } });
    expect(await post("/", ["GET", k], base64)).toEqual({ status: 200, body: { result: "YmFy" } });
    expect(await post("/", ["GET", k])).toEqual({ status: 200, body: { result: "bar" } });
    expect(await post("/pipeline", [["STRLEN", k], ["MGET", k, `${k}:none`], ["PING"]], base64)).toEqual({
      status: 200,
      body: [{ result: 3 }, { result: ["YmFy", null] }, { result: "UE9ORw==" }],
    });
  });
});

describe("Lua scripts with a shebang", () => {
  const script = "#!lua flags=allow-key-locking\nreturn {ARGV[1], redis.call('INCR', KEYS[1])}";
  const sha = createHash("sha1").update(script).digest("hex");

  it("loads, finds and runs them by the client's SHA1", async () => {
    expect(await redis.scriptLoad(script)).toBe(sha);
    expect(await redis.scriptExists(sha)).toEqual([1]);
    const k = key("lua");
    expect(await redis.evalsha(sha, [k], ["é"])).toEqual(["é", 1]);
    expect(await redis.eval(script, [k], ["x"])).toEqual(["x", 2]);
  });

  it("answers an unknown SHA1 with Redis's own NOSCRIPT", async () => {
    await redis.scriptFlush();
    for (const client of [redis, single]) {
      await expect(client.evalsha(sha, [key("lua")], ["x"])).rejects.toThrow(/NOSCRIPT No matching script/);
      await expect(client.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT No matching script/);
    }
  });
});

describe("@upstash/ratelimit through the proxy", () => {
  const LIMIT = 20;
  const algorithms = {
    tokenBucket: () => Ratelimit.tokenBucket(1, "1 h", LIMIT),
    slidingWindow: () => Ratelimit.slidingWindow(LIMIT, "1 h"),
  };

  const clients = { "auto-pipelined": () => redis, "one command a request": () => single };

  // no ephemeral cache: every limit() reaches Redis, so the EVALSHA counts are exact
  const limiter = (algorithm: keyof typeof algorithms, client: keyof typeof clients) =>
    new Ratelimit({
      redis: clients[client](),
      limiter: algorithms[algorithm](),
      analytics: false,
      ephemeralCache: false,
      prefix: key("rl"),
    });

  describe.for(Object.keys(clients) as (keyof typeof clients)[])("%s", (client) => {
    for (const algorithm of Object.keys(algorithms) as (keyof typeof algorithms)[]) {
      it(`${algorithm}: admits the limit, then refuses; EVALSHA hits after the first call`, async () => {
        const ratelimit = limiter(algorithm, client);
        await redis.scriptFlush(); // the first call misses, whatever ran before
        const before = { ...proxy.stats };
        const results = [];
        for (let i = 0; i < LIMIT + 3; i++) results.push(await ratelimit.limit("user"));
        expect(results.map((r) => r.success)).toEqual([...Array(LIMIT).fill(true), false, false, false]);
        expect(results.every((r) => r.reason === undefined)).toBe(true); // not let through by the client's timeout
        expect(proxy.stats.evalsha - before.evalsha).toBe(LIMIT + 3);
        expect(proxy.stats.evalshaMisses - before.evalshaMisses).toBe(1);
      });

      it(`${algorithm}: 100 concurrent calls against a limit of ${LIMIT} admit exactly ${LIMIT}`, async () => {
        const ratelimit = limiter(algorithm, client);
        const before = { ...proxy.stats };
        const results = await Promise.all(Array.from({ length: 100 }, () => ratelimit.limit("user")));
        expect(results.filter((r) => r.success)).toHaveLength(LIMIT);
        expect(results.every((r) => r.reason === undefined)).toBe(true);
        expect(proxy.stats.evalshaMisses - before.evalshaMisses).toBe(0);
      });
    }
  });
});
