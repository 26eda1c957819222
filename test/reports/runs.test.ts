import { env } from "cloudflare:test";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, runScheduledReports } from "../../src/modules/reports/reports.runner";
import { renderChart } from "../../src/modules/reports/reports.svg";
import { call, createTenant, createUser, expectProblem, json, type TestTenant } from "../helpers/api";
import { count, runCron, tenantDatabase } from "../helpers/db";
import { createEndpoint } from "../webhooks/support";
import { createSchedule, download, type Run, runReports, runsOf } from "./support";

const MINUTE = 60_000;

/** A tenant whose email channel is an SMTP port nobody listens on: every send fails, and may be tried again. */
async function withRefusingSmtp(tenant: TestTenant) {
  const put = await call("PUT", "/v1/notification-channels", {
    token: tenant.key,
    body: {
      email: { provider: "smtp", host: "127.0.0.1", port: 9, security: "none", from: "Reports <r@example.com>" },
    },
  });
  expect(put.status).toBe(200);
}

/** RFC 4180, read independently of the code under test: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

function svgsOf(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

function expectWellFormedSvg(svg: string) {
  expect(XMLValidator.validate(svg)).toBe(true);
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", htmlEntities: true }).parse(svg);
  expect(Object.keys(parsed)).toEqual(["svg"]);
  expect(parsed.svg["@xmlns"]).toBe("http://www.w3.org/2000/svg");
  return parsed.svg;
}

describe("runs", () => {
  it("the cron creates one run per schedule and due time, however often it fires for that minute", async () => {
    const tenant = await createTenant();
    const schedule = await createSchedule(tenant, { frequency: null, cron: "*/5 * * * *" });
    const due = Date.parse(schedule.nextRunAt as string);
    await Promise.all([runCron("* * * * *", due), runCron("* * * * *", due)]);
    await runCron("* * * * *", due);
    const runs = await runsOf(tenant, `?scheduleId=${schedule.id}`);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ scheduleId: schedule.id, scheduledFor: schedule.nextRunAt });
    // no email channel: nothing to retry, failed at once with the reason
    expect(runs[0]).toMatchObject({ status: "failed", attempts: 1, nextAttemptAt: null });
    expect(runs[0]?.error).toMatch(/no email channel/);
    const after = await json<{ nextRunAt: string }>(
      await call("GET", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key }),
    );
    expect(Date.parse(after.nextRunAt)).toBe(due + 5 * MINUTE);
    // the run is there once in storage too (UNIQUE schedule_id, scheduled_for)
    expect(await count(await tenantDatabase(tenant.id), "report_runs")).toBe(1);
  });

  it("a failed delivery is retried with backoff, then failed with the error; the report can still be downloaded", async () => {
    const tenant = await createTenant();
    await withRefusingSmtp(tenant);
    await createUser(tenant);
    const schedule = await createSchedule(tenant, { report: "new-users" });
    let at = Date.parse(schedule.nextRunAt as string);
    await runReports(tenant, at);
    let [run] = await runsOf(tenant);
    expect(run).toMatchObject({ status: "pending", attempts: 1 });
    expect(run?.error).toMatch(/^SMTP: /);
    expect(run?.nextAttemptAt).toBe(new Date(at + MINUTE).toISOString());
    // not due before its time
    await runReports(tenant, at + 30_000);
    expect((await runsOf(tenant))[0]?.attempts).toBe(1);
    const waits: number[] = [];
    while (run?.status === "pending") {
      const next = Date.parse(run.nextAttemptAt as string);
      waits.push(next - at);
      at = next;
      await runReports(tenant, at);
      [run] = await runsOf(tenant);
    }
    expect(waits).toEqual([MINUTE, 5 * MINUTE, 30 * MINUTE].slice(0, MAX_ATTEMPTS - 1));
    expect(run).toMatchObject({ status: "failed", attempts: MAX_ATTEMPTS, nextAttemptAt: null });
    expect(run?.error).toMatch(/^SMTP: /);
    expect(run?.finishedAt).not.toBeNull();
    const byId = await json<Run>(await call("GET", `/v1/reports/runs/${run?.id}`, { token: tenant.key }));
    expect(byId).toEqual(run);
    expect(await runsOf(tenant, "?status=failed")).toHaveLength(1);
    expect(await runsOf(tenant, "?status=succeeded")).toHaveLength(0);

    const response = await download(tenant, run?.id as string);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain("New users per day");
    const svgs = svgsOf(html);
    expect(svgs).toHaveLength(1);
    const svg = expectWellFormedSvg(svgs[0] as string);
    expect(svg.rect).toBeDefined();
  });

  it("csv: the table parses back, formulas are neutralised, restricted fields are not exported", async () => {
    const tenant = await createTenant();
    await createUser(tenant, { name: '=HYPERLINK("http://evil")', attributes: {} });
    await createUser(tenant, { name: 'Ann "The" Smith, PhD' });
    await createUser(tenant, { name: "@SUM(A1)" });
    const schedule = await createSchedule(tenant, { report: "export", format: "csv" });
    await runReports(tenant, schedule.nextRunAt as string);
    const [run] = await runsOf(tenant);
    const response = await download(tenant, run?.id as string);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const rows = parseCsv(await response.text());
    const [header, ...users] = rows;
    expect(header).toContain("id");
    expect(header).toContain("name");
    expect(header).not.toContain("email");
    expect(header).not.toContain("phone");
    const names = users.map((row) => row[(header as string[]).indexOf("name")]).sort();
    expect(names).toEqual(['\'=HYPERLINK("http://evil")', "'@SUM(A1)", 'Ann "The" Smith, PhD'].sort());
    expect(users.every((row) => row.length === header?.length)).toBe(true);
  });

  it("active users from activity_daily; a line chart that is well-formed SVG", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const schedule = await createSchedule(tenant, { report: "active-users", frequency: null, cron: "0 0 * * *" });
    const to = Date.parse(schedule.nextRunAt as string);
    const db = await tenantDatabase(tenant.id);
    const yesterday = new Date(to - 86_400_000).toISOString().slice(0, 10);
    await db
      .prepare("INSERT INTO activity_daily (user_id, day, events, logins) VALUES (?, ?, 3, 1)")
      .bind(user.id, yesterday)
      .run();
    await runReports(tenant, to);
    const [run] = await runsOf(tenant);
    const html = await (await download(tenant, run?.id as string)).text();
    expect(html).toContain("Active users over the period: 1");
    const svg = expectWellFormedSvg(svgsOf(html)[0] as string);
    expect(svg.path).toBeDefined();
  });

  it("the SVG renderer escapes text and stays well-formed", () => {
    const svg = renderChart({
      title: `<script>alert("x")</script> & 'co'`,
      kind: "bar",
      series: {
        name: "a < b",
        points: [
          { x: "</svg>", y: 3 },
          { x: "&amp;", y: 0.5 },
        ],
      },
    });
    const parsed = expectWellFormedSvg(svg);
    // the parser decodes the entities back: the text is exactly the title, not markup
    expect(parsed.title).toBe(`<script>alert("x")</script> & 'co'`);
    expect(svg).not.toContain("<script>");
    expectWellFormedSvg(renderChart({ title: "empty", kind: "line", series: { name: "none", points: [] } }));
  });

  it("json goes to the tenant's webhook endpoint (signed delivery; refused here, so retried) and downloads as JSON", async () => {
    const tenant = await createTenant();
    const endpoint = await createEndpoint(tenant, { events: ["user.*"] });
    const schedule = await createSchedule(tenant, { format: "json", recipients: null, webhookId: endpoint.id });
    expect(schedule.recipients).toEqual([]);
    await runReports(tenant, schedule.nextRunAt as string);
    const [run] = await runsOf(tenant);
    expect(run).toMatchObject({ status: "pending", attempts: 1 });
    expect(run?.error).toMatch(/^webhook: request failed/);
    const response = await download(tenant, run?.id as string);
    expect(response.headers.get("content-type")).toBe("application/json");
    const body = await json<{ type: string; data: Record<string, unknown> }>(response);
    expect(body).toMatchObject({
      type: "report.generated",
      data: { runId: run?.id, scheduleId: schedule.id, report: "new-users", period: { to: schedule.nextRunAt } },
    });
    // the endpoint deleted: nothing to retry
    expect((await call("DELETE", `/v1/webhooks/${endpoint.id}`, { token: tenant.key })).status).toBe(204);
    await runReports(tenant, run?.nextAttemptAt as string);
    expect((await runsOf(tenant))[0]).toMatchObject({ status: "failed", attempts: 2 });
  });

  it("a tenant whose plan lost the feature keeps its schedules, which do not run", async () => {
    const tenant = await createTenant();
    const schedule = await createSchedule(tenant, {});
    const db = await tenantDatabase(tenant.id);
    await runScheduledReports(env, tenant.id, "free", db, Date.parse(schedule.nextRunAt as string));
    expect(await count(db, "report_runs")).toBe(0);
    await runReports(tenant, schedule.nextRunAt as string);
    expect(await count(db, "report_runs")).toBe(1);
  });

  it("runs are the tenant's own; a run not generated yet has nothing to download", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const schedule = await createSchedule(tenant, {});
    await runReports(tenant, schedule.nextRunAt as string);
    const [run] = await runsOf(tenant);
    await expectProblem(await call("GET", `/v1/reports/runs/${run?.id}`, { token: other.key }), 404);
    await expectProblem(await download(other, run?.id as string), 404);
    expect(await runsOf(other)).toEqual([]);
    const db = await tenantDatabase(tenant.id);
    await db.prepare("UPDATE report_runs SET artefact = NULL, content_type = NULL").run();
    await expectProblem(await download(tenant, run?.id as string), 409, "REPORT_NOT_GENERATED");
    // deleting the schedule takes its runs with it
    expect((await call("DELETE", `/v1/reports/schedules/${schedule.id}`, { token: tenant.key })).status).toBe(204);
    expect(await runsOf(tenant)).toEqual([]);
  });
});
