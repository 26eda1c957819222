/**
 * Outbound HTTP to addresses a tenant or a plugin configured (HTTP actions, plugin fetches), through the SSRF guard
 * (url-guard.ts). Redirects are not followed (a redirect could lead past the guard), and every call has a timeout.
 */
import { checkOutboundUrl } from "./url-guard";

export const DEFAULT_TIMEOUT_MS = 10_000;

export class OutboundRefused extends Error {
  constructor(readonly reason: string) {
    super(`outbound URL refused: ${reason}`);
    this.name = "OutboundRefused";
  }
}

/** fetch through the guard: throws OutboundRefused for a refused URL, a TimeoutError after `timeoutMs`. */
export async function guardedFetch(
  environment: string,
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<Response> {
  const verdict = checkOutboundUrl(url, { ENVIRONMENT: environment });
  if (!verdict.ok) throw new OutboundRefused(verdict.reason);
  const { timeoutMs = DEFAULT_TIMEOUT_MS, ...rest } = init;
  return fetch(url, { ...rest, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
}
