/**
 * The one SSRF guard: where the service may send a tenant's or a plugin's requests (webhook endpoints, HTTP actions,
 * email/SMS/push providers, SMTP servers, plugin fetches). Checked when the address is saved and again before every
 * request (the configuration, or the rules, may have changed since).
 *
 * `https:` only. Refused: loopback, private (RFC 1918), link-local, CGNAT (RFC 6598), "this network", benchmarking,
 * multicast and reserved IPv4 space; the IPv6 loopback, unspecified, unique-local (RFC 4193), link-local, site-local
 * and multicast space; IPv4-mapped, IPv4-compatible and NAT64 forms of refused IPv4 addresses; names that only mean
 * something inside a network (`localhost`, single-label names, `*.local`, `*.internal`, `*.lan`, `*.home.arpa`…);
 * ports below 1024 other than 80 and 443 (URLs only: SMTP servers use 25, 465 and 587).
 *
 * Development (`ENVIRONMENT=development`, `wrangler dev`) relaxes one thing: this machine. Loopback hosts, over
 * `http:` too, so that a receiver, a provider or an SMTP server on the laptop works.
 *
 * Workers cannot resolve a name before connecting, so a public name whose DNS points at a private address is left to
 * the platform's egress rules (Cloudflare's network does not route Workers' subrequests into private networks).
 */

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

interface GuardEnv {
  ENVIRONMENT?: string;
}

const MAX_URL_LENGTH = 2048;
const LOCAL_SUFFIXES = ["localhost", "local", "internal", "lan", "home", "home.arpa", "corp", "intranet"];

/** IPv4 ranges refused: [base address, prefix length, what it is]. */
const IPV4_BLOCKED: readonly [string, number, string][] = [
  ["0.0.0.0", 8, "a 'this network' address (0.0.0.0/8)"],
  ["10.0.0.0", 8, "a private address (10.0.0.0/8)"],
  ["100.64.0.0", 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  ["127.0.0.0", 8, "a loopback address (127.0.0.0/8)"],
  ["169.254.0.0", 16, "a link-local address (169.254.0.0/16)"],
  ["172.16.0.0", 12, "a private address (172.16.0.0/12)"],
  ["192.0.0.0", 24, "an IETF protocol address (192.0.0.0/24)"],
  ["192.168.0.0", 16, "a private address (192.168.0.0/16)"],
  ["198.18.0.0", 15, "a benchmarking address (198.18.0.0/15)"],
  ["224.0.0.0", 4, "a multicast address (224.0.0.0/4)"],
  ["240.0.0.0", 4, "a reserved address (240.0.0.0/4)"],
];

function ipv4ToNumber(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function inIpv4Range(address: number, base: string, prefix: number): boolean {
  const start = ipv4ToNumber(base) as number;
  return address >= start && address < start + 2 ** (32 - prefix);
}

function ipv4Problem(address: number): string | null {
  for (const [base, prefix, what] of IPV4_BLOCKED) if (inIpv4Range(address, base, prefix)) return what;
  return null;
}

/**
 * The eight 16-bit groups of an IPv6 address (brackets removed), or null. The URL parser has already compressed it
 * and rewritten a dotted tail (`::ffff:127.0.0.1` → `::ffff:7f00:1`); an SMTP host typed by hand may still have one.
 */
function ipv6Groups(text: string): number[] | null {
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4ToNumber(dotted[2] as string);
    if (v4 === null) return null;
    text = `${dotted[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : -1));
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  return groups.every((g) => g >= 0) ? groups : null;
}

function ipv6Problem(groups: number[]): string | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(7) && g7 === 1) return "the IPv6 loopback address (::1)";
  if (zeroTo(8)) return "the unspecified IPv6 address (::)";
  // ::ffff:a.b.c.d (IPv4-mapped, RFC 4291 §2.5.5.2) and ::a.b.c.d (IPv4-compatible, deprecated): judged as IPv4
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) {
    const v4 = ipv4Problem(g6 * 65536 + g7);
    return v4 ? `an IPv4-mapped IPv6 form of ${v4}` : null;
  }
  // 64:ff9b::/96 (NAT64, RFC 6052): the IPv4 address it embeds decides
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    const v4 = ipv4Problem(g6 * 65536 + g7);
    return v4 ? `a NAT64 form of ${v4}` : null;
  }
  if ((g0 & 0xfe00) === 0xfc00) return "a unique-local IPv6 address (fc00::/7)";
  if ((g0 & 0xffc0) === 0xfe80) return "a link-local IPv6 address (fe80::/10)";
  if ((g0 & 0xffc0) === 0xfec0) return "a site-local IPv6 address (fec0::/10)";
  if ((g0 & 0xff00) === 0xff00) return "a multicast IPv6 address (ff00::/8)";
  return null;
}

/** A host as URL.hostname gives it or as typed for SMTP: lower case, no trailing dot, IPv6 without brackets. */
function normalize(host: string): string {
  return host
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
}

/** Whether a normalized host names this machine. */
function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4ToNumber(host);
  if (v4 !== null) return inIpv4Range(v4, "127.0.0.0", 8);
  const groups = host.includes(":") ? ipv6Groups(host) : null;
  if (!groups) return false;
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(7) && groups[7] === 1) return true;
  return zeroTo(5) && groups[5] === 0xffff && inIpv4Range((groups[6] ?? 0) * 65536 + (groups[7] ?? 0), "127.0.0.0", 8);
}

/**
 * Why the service may not connect to `rawHost` (a name, an IPv4 literal or an IPv6 literal with or without brackets),
 * or null. Used alone for SMTP servers; URLs go through checkOutboundUrl.
 */
export function hostProblem(rawHost: string, env: GuardEnv): string | null {
  const host = normalize(rawHost);
  if (env.ENVIRONMENT === "development" && isLoopback(host)) return null;
  const v4 = ipv4ToNumber(host);
  if (v4 !== null) {
    const what = ipv4Problem(v4);
    return what ? `${host} is ${what}` : null;
  }
  if (host.includes(":")) {
    const groups = ipv6Groups(host);
    if (!groups) return `${host} is not a valid IPv6 address`;
    const what = ipv6Problem(groups);
    return what ? `${host} is ${what}` : null;
  }
  if (!host.includes(".")) return `${host} is a local name (a single label)`;
  if (LOCAL_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    return `${host} is a local name`;
  }
  return null;
}

/**
 * Whether the service may send requests to `raw`. A refusal's reason names the rule, for the API's 400 errors and the
 * delivery logs.
 */
export function checkOutboundUrl(raw: string, env: GuardEnv): UrlVerdict {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `the URL is longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "it is not an absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "a URL with credentials (user:password@) is refused" };
  if (url.hash) return { ok: false, reason: "a URL with a fragment (#…) is refused" };
  const development = env.ENVIRONMENT === "development";
  const loopback = isLoopback(normalize(url.hostname));
  if (url.protocol === "http:") {
    return development && loopback
      ? { ok: true, url }
      : { ok: false, reason: "only https URLs are allowed (http only to a loopback address in development)" };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "only https URLs are allowed" };
  if (development && loopback) return { ok: true, url };
  const problem = hostProblem(url.hostname, env);
  if (problem) return { ok: false, reason: `${problem}: not reachable from the service` };
  const port = url.port === "" ? null : Number(url.port);
  if (port !== null && port < 1024 && port !== 443 && port !== 80) {
    return { ok: false, reason: `port ${port} is refused (below 1024 only 443 and 80)` };
  }
  return { ok: true, url };
}
