/**
 * The SSRF guard of webhook URLs: where the service may send a tenant's requests. Checked when an endpoint is
 * created or changed, and again before every delivery (the configuration may have changed since).
 *
 * `https:` only, except `http:` to a loopback address while ENVIRONMENT is "development" (a receiver on the laptop).
 * Elsewhere, addresses that reach inside a network are refused: loopback, private (RFC 1918), link-local, CGNAT
 * (RFC 6598), unique-local IPv6 (RFC 4193), "this network", multicast and reserved space, IPv4-mapped IPv6 forms of
 * them, and names that only mean something locally (`localhost`, `*.localhost`, `*.local`, `*.internal`).
 *
 * Workers cannot resolve a name before `fetch`, so a public name whose DNS points at a private address is left to the
 * platform's egress rules (Cloudflare's network does not route Workers' subrequests into private networks).
 */

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

interface GuardEnv {
  ENVIRONMENT?: string;
}

const MAX_URL_LENGTH = 2048;
const LOCAL_NAMES = [/^localhost$/, /\.localhost$/, /\.local$/, /\.internal$/];

/** IPv4 ranges refused outside development: [first octets as a 32-bit number, prefix length, what it is]. */
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
  const size = 2 ** (32 - prefix);
  return address >= start && address < start + size;
}

function ipv4Problem(address: number): string | null {
  for (const [base, prefix, what] of IPV4_BLOCKED) if (inIpv4Range(address, base, prefix)) return what;
  return null;
}

/**
 * The eight 16-bit groups of an IPv6 address as the URL parser writes it (compressed, lower-case hex: it rewrites a
 * dotted tail such as `::ffff:127.0.0.1` to `::ffff:7f00:1`), or null.
 */
function ipv6Groups(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : -1));
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

/** Whether `host` (as URL.hostname gives it) names this machine. */
function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4ToNumber(host);
  if (v4 !== null) return inIpv4Range(v4, "127.0.0.0", 8);
  if (host.startsWith("[")) {
    const groups = ipv6Groups(host.slice(1, -1));
    if (!groups) return false;
    const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
    if (zeroTo(7) && groups[7] === 1) return true;
    return (
      zeroTo(5) && groups[5] === 0xffff && inIpv4Range((groups[6] ?? 0) * 65536 + (groups[7] ?? 0), "127.0.0.0", 8)
    );
  }
  return false;
}

/** What is wrong with sending to this host outside development, or null. */
function hostProblem(host: string): string | null {
  const name = host.replace(/\.$/, "");
  if (LOCAL_NAMES.some((pattern) => pattern.test(name))) return `${name} is a local name`;
  const v4 = ipv4ToNumber(name);
  if (v4 !== null) {
    const what = ipv4Problem(v4);
    return what ? `${name} is ${what}` : null;
  }
  if (name.startsWith("[")) {
    const groups = ipv6Groups(name.slice(1, -1));
    if (!groups) return `${name} is not a valid IPv6 address`;
    const what = ipv6Problem(groups);
    return what ? `${name} is ${what}` : null;
  }
  return null;
}

/**
 * Whether the service may send webhook requests to `raw`. The reason of a refusal names the rule, for the API's
 * 400 WEBHOOK_URL_NOT_ALLOWED and the delivery log.
 */
export function checkWebhookUrl(raw: string, env: GuardEnv): UrlVerdict {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `the URL is longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "it is not an absolute URL" };
  }
  const development = env.ENVIRONMENT === "development";
  if (url.username || url.password) return { ok: false, reason: "a URL with credentials (user:password@) is refused" };
  if (url.hash) return { ok: false, reason: "a URL with a fragment (#…) is refused" };
  const host = url.hostname.toLowerCase();
  if (url.protocol === "http:") {
    if (!development) return { ok: false, reason: "only https URLs are allowed" };
    if (!isLoopback(host)) return { ok: false, reason: "http is allowed only to a loopback address in development" };
    return { ok: true, url };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "only https URLs are allowed" };
  if (development) return { ok: true, url };
  const problem = hostProblem(host);
  if (problem) return { ok: false, reason: `${problem}: not reachable from the service` };
  const port = url.port === "" ? null : Number(url.port);
  if (port !== null && port < 1024 && port !== 443 && port !== 80) {
    return { ok: false, reason: `port ${port} is refused (below 1024 only 443 and 80)` };
  }
  return { ok: true, url };
}
