// The workers project's global setup: a real Redis behind a local Upstash REST proxy, for the `upstash` rate-limit
// backend's tests (scripts/redis-server.mjs, scripts/upstash-rest-proxy.mjs). Tests read it with inject("upstash")
// (vitest-pool-workers passes the provided context into workerd; workerd may fetch 127.0.0.1). Without redis-server
// the tests that use it fail with how to install it, rather than being skipped unseen; the others run as ever.
import type { TestProject } from "vitest/node";
import { randomHex } from "../scripts/env.mjs";
import { startRedis } from "../scripts/redis-server.mjs";
import { startUpstashProxy } from "../scripts/upstash-rest-proxy.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    upstash: { url: string; token: string } | { error: string };
  }
}

export default async function setup(project: TestProject) {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  try {
    redis = await startRedis();
  } catch (error) {
    project.provide("upstash", { error: error instanceof Error ? error.message : String(error) });
    return;
  }
  const proxy = await startUpstashProxy({ redisPort: redis.port, token: `test_${randomHex(16)}` }).catch(
    async (error) => {
      await redis.close();
      throw error;
    },
  );
  project.provide("upstash", { url: proxy.url, token: proxy.token });
  return async () => {
    await proxy.close();
    await redis.close();
  };
}
