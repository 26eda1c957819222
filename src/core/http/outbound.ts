/**
 * Outbound HTTP to addresses a tenant or a plugin configured (HTTP actions, plugin fetches): the SSRF guard. Only
 * `https:` to a public host name or address; loopback (and plain `http:` to it) only when ENVIRONMENT is
 * `development`, for local receivers. Redirects are not followed (a redirect could lead past the guard), and every
 * call has a timeout. In production a Worker's fetch goes out through Cloudflare's network and cannot reach the
 * deployment's own private network, so the address check is about literals and well-known internal names.
 */

export const DEFAULT_TIMEOUT_MS = 10_000;

/** Why a URL is refused, or null when it may be called. */
export function outboundUrlProblem(raw: string, environment: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not an absolute URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed";
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const loopback = isLoopback(host);
  const development = environment === "development";
  if (loopback) {
    if (!development) return "loopback addresses are refused";
    return url.protocol === "https:" || url.protocol === "http:" ? null : "only https (or http to loopback)";
  }
  if (url.protocol !== "https:") return "only https URLs are allowed";
  if (isInternalName(host) || isPrivateAddress(host)) return "private, link-local and internal addresses are refused";
  return null;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1";
}

function isInternalName(host: string): boolean {
  return /\.(local|internal|lan|home|corp|intranet)$/.test(host) || !host.includes(".") || host === "metadata";
}

function isPrivateAddress(host: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  if (host.includes(":")) {
    // IPv6: unspecified, loopback, unique-local (fc00::/7), link-local (fe80::/10), IPv4-mapped
    return host === "::" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith("::ffff:");
  }
  return false;
}

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
  const problem = outboundUrlProblem(url, environment);
  if (problem) throw new OutboundRefused(problem);
  const { timeoutMs = DEFAULT_TIMEOUT_MS, ...rest } = init;
  return fetch(url, { ...rest, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
}
