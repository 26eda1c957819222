/**
 * Where the service may connect for a tenant (HTTP email and SMS providers, SMTP servers): an SSRF guard, checked
 * when the channel is saved and again before each send. Same verdict shape as the webhooks helper's guard
 * (src/modules/webhooks): the two are meant to become one shared guard.
 *
 * Outside development: `https:` only, and no host that reaches inside a network (loopback, RFC 1918 private,
 * link-local, CGNAT, unique-local and link-local IPv6, IPv4-mapped forms, `localhost`, `*.local`, `*.internal`).
 * In development (`ENVIRONMENT=development`, `wrangler dev`), loopback hosts and `http:` to them are allowed, so a
 * provider or SMTP server on the laptop works. A public name that resolves to a private address is left to the
 * platform's egress rules: a Worker cannot resolve a name before connecting.
 */

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

interface GuardEnv {
  ENVIRONMENT?: string;
}

const LOCAL_NAMES = [/^localhost$/, /\.localhost$/, /\.local$/, /\.internal$/];

/** [base address, prefix length]: 0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16, 172.16/12, 192.0.0/24,
 * 192.168/16, 198.18/15 (benchmarking), 224/4 (multicast), 240/4 (reserved). */
const IPV4_BLOCKED: readonly [number, number][] = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xe0000000, 4],
  [0xf0000000, 4],
];

function ipv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function ipv4Blocked(address: number): boolean {
  return IPV4_BLOCKED.some(([base, prefix]) => address >= base && address < base + 2 ** (32 - prefix));
}

function ipv6Groups(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : -1));
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.every((g) => g >= 0) ? groups : null;
}

function ipv6Blocked(groups: number[]): boolean {
  const [g0 = 0, , , , , g5 = 0, g6 = 0, g7 = 0] = groups;
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(7) && g7 <= 1) return true; // :: and ::1
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) return ipv4Blocked(g6 * 65536 + g7); // IPv4-mapped/compatible
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xff00) === 0xff00;
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4(host);
  if (v4 !== null) return v4 >>> 24 === 127;
  const groups = host.startsWith("[") ? ipv6Groups(host.slice(1, -1)) : null;
  // biome-ignore lint/complexity/useOptionalChain: the comparison must be a boolean, not undefined
  return groups !== null && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

/** Why the service may not connect to `host` (a name or an IP literal, IPv6 in brackets), or null. */
export function hostProblem(rawHost: string, env: GuardEnv): string | null {
  const host = rawHost.toLowerCase().replace(/\.$/, "");
  if (env.ENVIRONMENT === "development" && isLoopback(host)) return null;
  if (LOCAL_NAMES.some((pattern) => pattern.test(host))) return `${host} is a local name`;
  const v4 = ipv4(host);
  if (v4 !== null) return ipv4Blocked(v4) ? `${host} is a loopback, private or reserved address` : null;
  if (host.startsWith("[") || host.includes(":")) {
    const groups = ipv6Groups(host.replace(/^\[|\]$/g, ""));
    if (!groups) return `${host} is not a valid IPv6 address`;
    return ipv6Blocked(groups) ? `${host} is a loopback, private or reserved address` : null;
  }
  return null;
}

/** Whether the service may send a tenant's HTTP requests to `raw`. */
export function checkOutboundUrl(raw: string, env: GuardEnv): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "it is not an absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "a URL with credentials (user:password@) is refused" };
  const host = url.hostname.toLowerCase();
  if (url.protocol === "http:") {
    return env.ENVIRONMENT === "development" && isLoopback(host)
      ? { ok: true, url }
      : { ok: false, reason: "only https URLs are allowed (http only to a loopback address in development)" };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "only https URLs are allowed" };
  const problem = hostProblem(host, env);
  return problem ? { ok: false, reason: `${problem}: not reachable from the service` } : { ok: true, url };
}
