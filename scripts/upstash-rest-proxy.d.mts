// Types of scripts/upstash-rest-proxy.mjs for the TypeScript that imports it (test/global-setup.ts, test-e2e).
export interface UpstashProxy {
  url: string;
  token: string;
  /** EVALSHA calls, and those Redis answered NOSCRIPT (hits = evalsha - evalshaMisses). */
  stats: { evalsha: number; evalshaMisses: number };
  close(): Promise<void>;
}
export function startUpstashProxy(options: {
  redisPort: number;
  redisHost?: string;
  token: string;
  port?: number;
}): Promise<UpstashProxy>;
