import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../../src/modules/webhooks/webhooks.url-guard";

// The SSRF guard, table-driven: [url, allowed in development, allowed in production (null: refused, with a reason
// matching the pattern)].
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
  ["https://10.1.2.3/x", true, /private address \(10/],
  ["https://172.16.0.1/x", true, /private address \(172\.16/],
  ["https://172.31.255.255/x", true, /private address \(172\.16/],
  ["https://172.32.0.1/x", true, true],
  ["https://192.168.1.1/x", true, /private address \(192\.168/],
  ["https://169.254.169.254/latest/meta-data", true, /link-local/],
  ["https://100.64.0.1/x", true, /carrier-grade NAT/],
  ["https://100.128.0.1/x", true, true],
  ["https://0.0.0.0/x", true, /this network/],
  ["https://224.0.0.1/x", true, /multicast/],
  ["https://[fc00::1]/x", true, /unique-local/],
  ["https://[fd12:3456::1]/x", true, /unique-local/],
  ["https://[fe80::1]/x", true, /link-local IPv6/],
  ["https://[ff02::1]/x", true, /multicast IPv6/],
  ["https://[::]/x", true, /unspecified/],
  ["https://[::ffff:127.0.0.1]/x", true, /IPv4-mapped IPv6 form of a loopback/],
  ["https://[::ffff:10.0.0.1]/x", true, /IPv4-mapped IPv6 form of a private/],
  ["https://[::ffff:169.254.169.254]/x", true, /IPv4-mapped IPv6 form of a link-local/],
  ["https://[::ffff:8.8.8.8]/x", true, true],
  ["https://[64:ff9b::a00:1]/x", true, /NAT64 form of a private/],
  // local names
  ["https://localhost/x", true, /local name/],
  ["https://api.localhost/x", true, /local name/],
  ["https://printer.local/x", true, /local name/],
  ["https://metadata.google.internal/x", true, /local name/],
  ["https://LOCALHOST./x", true, /local name/],
  // ports below 1024 other than 443 and 80
  ["https://hooks.example.com:22/x", true, /port 22/],
  ["https://hooks.example.com:80/x", true, true],
  ["https://hooks.example.com:1024/x", true, true],
];

describe("the webhook URL guard", () => {
  it.each(TABLE)("%s: development %s, production %s", (url, inDevelopment, inProduction) => {
    const dev = checkWebhookUrl(url, development);
    expect(dev.ok, dev.ok ? "" : dev.reason).toBe(inDevelopment);
    const prod = checkWebhookUrl(url, production);
    if (inProduction === true) {
      expect(prod.ok, prod.ok ? "" : prod.reason).toBe(true);
    } else {
      expect(prod.ok).toBe(false);
      if (!prod.ok) expect(prod.reason).toMatch(inProduction);
    }
  });

  it("treats a missing ENVIRONMENT as production", () => {
    expect(checkWebhookUrl("http://127.0.0.1:8787/x", {}).ok).toBe(false);
    expect(checkWebhookUrl("https://10.0.0.1/x", {}).ok).toBe(false);
  });

  it("refuses a URL longer than 2048 characters", () => {
    const verdict = checkWebhookUrl(`https://hooks.example.com/${"a".repeat(2048)}`, production);
    expect(verdict.ok).toBe(false);
  });
});
