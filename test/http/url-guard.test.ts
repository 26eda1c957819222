import { describe, expect, it } from "vitest";
import { checkOutboundUrl, hostProblem } from "../../src/core/http/url-guard";

// The one SSRF guard (webhooks, HTTP actions, notification providers, push endpoints, plugin fetches), table-driven:
// [url, allowed in development, allowed in production (or refused, with a reason matching the pattern)]. Development
// relaxes one thing only: this machine (loopback, over http too).
const development = { ENVIRONMENT: "development" };
const production = { ENVIRONMENT: "production" };

type Row = [url: string, inDevelopment: boolean, inProduction: true | RegExp];

const TABLE: Row[] = [
  // public https: fine everywhere
  ["https://hooks.example.com/uom", true, true],
  ["https://hooks.example.com:8443/uom", true, true],
  ["https://93.184.216.34/hook", true, true],
  ["https://[2606:4700::1111]/hook", true, true],
  ["https://hooks.example.com:443/x", true, true],
  // http: loopback in development only
  ["http://127.0.0.1:8787/hook", true, /only https/],
  ["http://localhost:3000/hook", true, /only https/],
  ["http://[::1]:3000/hook", true, /only https/],
  ["http://127.9.9.9/hook", true, /only https/],
  ["http://hooks.example.com/hook", false, /only https/],
  ["http://10.0.0.5/hook", false, /only https/],
  // not http(s), or not a URL
  ["ftp://hooks.example.com/x", false, /only https/],
  ["file:///etc/passwd", false, /only https/],
  ["hooks.example.com/x", false, /not an absolute URL/],
  // credentials in the URL
  ["https://user:pass@hooks.example.com/x", false, /credentials/],
  ["https://user@hooks.example.com/x", false, /credentials/],
  // loopback and private addresses, every spelling the URL parser normalizes
  ["https://127.0.0.1/x", true, /loopback/],
  ["https://2130706433/x", true, /loopback/],
  ["https://0x7f.0.0.1/x", true, /loopback/],
  ["https://[::1]/x", true, /IPv6 loopback/],
  ["https://10.1.2.3/x", false, /private address \(10/],
  ["https://172.16.0.1/x", false, /private address \(172\.16/],
  ["https://172.31.255.255/x", false, /private address \(172\.16/],
  ["https://172.32.0.1/x", true, true],
  ["https://192.168.1.1/x", false, /private address \(192\.168/],
  ["https://169.254.169.254/latest/meta-data", false, /link-local/],
  ["https://100.64.0.1/x", false, /carrier-grade NAT/],
  ["https://100.128.0.1/x", true, true],
  ["https://0.0.0.0/x", false, /this network/],
  ["https://224.0.0.1/x", false, /multicast/],
  ["https://[fc00::1]/x", false, /unique-local/],
  ["https://[fd12:3456::1]/x", false, /unique-local/],
  ["https://[fe80::1]/x", false, /link-local IPv6/],
  ["https://[ff02::1]/x", false, /multicast IPv6/],
  ["https://[::]/x", false, /unspecified/],
  ["https://[::ffff:127.0.0.1]/x", true, /IPv4-mapped IPv6 form of a loopback/],
  ["https://[::ffff:10.0.0.1]/x", false, /IPv4-mapped IPv6 form of a private/],
  ["https://[::ffff:169.254.169.254]/x", false, /IPv4-mapped IPv6 form of a link-local/],
  ["https://[::ffff:8.8.8.8]/x", true, true],
  ["https://[64:ff9b::a00:1]/x", false, /NAT64 form of a private/],
  // local names
  ["https://localhost/x", true, /local name/],
  ["https://api.localhost/x", true, /local name/],
  ["https://printer.local/x", false, /local name/],
  ["https://metadata.google.internal/x", false, /local name/],
  ["https://LOCALHOST./x", true, /local name/],
  ["https://intranet/x", false, /single label/],
  ["https://metadata/computeMetadata/v1", false, /single label/],
  ["https://nas.lan/x", false, /local name/],
  ["https://router.home.arpa/x", false, /local name/],
  ["https://[fec0::1]/x", false, /site-local/],
  ["https://198.18.0.1/x", false, /benchmarking/],
  // a fragment is never sent: refused rather than silently dropped
  ["https://hooks.example.com/x#part", false, /fragment/],
  // ports below 1024 other than 443 and 80
  ["https://hooks.example.com:22/x", false, /port 22/],
  ["https://hooks.example.com:80/x", true, true],
  ["https://hooks.example.com:1024/x", true, true],
];

describe("the outbound URL guard", () => {
  it.each(TABLE)("%s: development %s, production %s", (url, inDevelopment, inProduction) => {
    const dev = checkOutboundUrl(url, development);
    expect(dev.ok, dev.ok ? "" : dev.reason).toBe(inDevelopment);
    const prod = checkOutboundUrl(url, production);
    if (inProduction === true) {
      expect(prod.ok, prod.ok ? "" : prod.reason).toBe(true);
    } else {
      expect(prod.ok).toBe(false);
      if (!prod.ok) expect(prod.reason).toMatch(inProduction);
    }
  });

  it("treats a missing ENVIRONMENT as production", () => {
    expect(checkOutboundUrl("http://127.0.0.1:8787/x", {}).ok).toBe(false);
    expect(checkOutboundUrl("https://10.0.0.1/x", {}).ok).toBe(false);
  });

  it("refuses a URL longer than 2048 characters", () => {
    const verdict = checkOutboundUrl(`https://hooks.example.com/${"a".repeat(2048)}`, production);
    expect(verdict.ok).toBe(false);
  });
});

// SMTP servers are a host and a port: the same host rules, and no port rule (25, 465 and 587 are SMTP's).
const HOSTS: [host: string, inDevelopment: boolean, inProduction: true | RegExp][] = [
  ["smtp.example.com", true, true],
  ["203.0.113.25", true, true],
  ["127.0.0.1", true, /loopback/],
  ["localhost", true, /local name/],
  ["::1", true, /IPv6 loopback/],
  ["[::1]", true, /IPv6 loopback/],
  ["::ffff:10.0.0.1", false, /IPv4-mapped IPv6 form of a private/],
  ["[::ffff:7f00:1]", true, /IPv4-mapped IPv6 form of a loopback/],
  ["10.0.0.5", false, /private address/],
  ["mail.internal", false, /local name/],
  ["Mail.Corp.", false, /local name/],
  ["mailhost", false, /single label/],
  ["[fe80::1]", false, /link-local IPv6/],
  ["[1::2::3]", false, /not a valid IPv6/],
];

describe("the SMTP host guard", () => {
  it.each(HOSTS)("%s: development %s, production %s", (host, inDevelopment, inProduction) => {
    expect(hostProblem(host, development) === null).toBe(inDevelopment);
    const problem = hostProblem(host, production);
    if (inProduction === true) expect(problem).toBeNull();
    else expect(problem).toMatch(inProduction);
  });
});
