import { parseList } from "structured-headers";
import { expect } from "vitest";
import { call, createKey, json, type TestTenant } from "../helpers/api";

/** The RateLimit-Policy and RateLimit fields of a response, parsed by an outside structured-fields parser. */
export function rateLimitFields(response: Response) {
  const policyField = response.headers.get("ratelimit-policy");
  const stateField = response.headers.get("ratelimit");
  expect(policyField, "RateLimit-Policy").toBeTruthy();
  expect(stateField, "RateLimit").toBeTruthy();
  const [policy] = parseList(policyField as string);
  const [state] = parseList(stateField as string);
  if (!policy || !state || Array.isArray(policy[0]) || Array.isArray(state[0])) throw new Error("not an Item");
  return {
    policy: { name: policy[0], q: policy[1].get("q"), w: policy[1].get("w") },
    state: { name: state[0], r: state[1].get("r"), t: state[1].get("t") },
  };
}

export interface RateLimitBody {
  scope?: "tenant" | "apiKey";
  apiKeyId?: string;
  algorithm?: "token-bucket" | "sliding-window";
  burst: number;
  ratePerSecond: number;
}

export async function putRateLimit(tenant: TestTenant, body: RateLimitBody) {
  return call("PUT", "/v1/rate-limits", { token: tenant.key, body });
}

/** A second API key of the tenant with its own policy (the tenant's key stays free to manage it). */
export async function limitedKey(tenant: TestTenant, policy: Omit<RateLimitBody, "scope" | "apiKeyId">) {
  const key = await createKey(tenant, ["admin"]);
  const response = await putRateLimit(tenant, { scope: "apiKey", apiKeyId: key.id, ...policy });
  expect(response.status).toBe(200);
  return { ...key, view: await json(response) };
}

/** Statuses of n requests sent at once with this credential. */
export async function burstOf(token: string, n: number, path = "/v1/me") {
  const responses = await Promise.all(Array.from({ length: n }, () => call("GET", path, { token })));
  return responses;
}
