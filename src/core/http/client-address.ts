import type { Context } from "hono";

/** The client's address as Cloudflare reports it (`x-real-ip` behind another proxy), or null when unknown. */
export function clientAddress(c: Context): string | null {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? null;
}

/**
 * The address an IP throttle counts: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole /64, so
 * counting single addresses would give an attacker 2^64 fresh counters).
 */
export function ipBucket(ip: string): string {
  const address = ip.trim().toLowerCase();
  if (!address.includes(":")) return address;
  const mappedV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mappedV4) return mappedV4[1] as string;
  const [head = "", tail] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const zeros = Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill("0");
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
