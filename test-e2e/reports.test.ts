import { randomBytes } from "node:crypto";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, type SmtpSink, startReceiver, startSmtp } from "./helpers/servers";
import { call, createTenant, type E2eTenant, eventually, expectCall, service } from "./helpers/service";

// Scheduled reports leaving the worker: an html+csv report received by a real SMTP server (smtp-server, parsed by
// mailparser) with its SVG chart inline and the CSV attached; a json report POSTed to a real HTTP receiver, verified
// with the standardwebhooks library. The cron is fired through wrangler's scheduled handler at the schedule's due time.

let tenant: E2eTenant;
let smtp: SmtpSink;
let receiver: Receiver;
const SMTP_USER = "reports";
const SMTP_PASSWORD = `pw-${randomBytes(6).toString("hex")}`;

interface Schedule {
  id: string;
  nextRunAt: string;
}
interface Run {
  id: string;
  status: string;
  error: string | null;
}

beforeAll(async () => {
  tenant = await createTenant({ name: "E2E reports" });
  smtp = await startSmtp({ users: { [SMTP_USER]: SMTP_PASSWORD } });
  receiver = await startReceiver();
  await expectCall("PUT", "/v1/notification-channels", 200, {
    token: tenant.key,
    body: {
      email: {
        provider: "smtp",
        host: "127.0.0.1",
        port: smtp.port,
        security: "none",
        username: SMTP_USER,
        password: SMTP_PASSWORD,
        from: "Acme Reports <reports@acme.test>",
      },
    },
  });
  for (const name of ["=cmd|' /C calc'!A0", "Plain Name"]) {
    await expectCall("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email: `${randomBytes(4).toString("hex")}@acme.test`, name },
    });
  }
});

afterAll(async () => {
  await smtp?.close();
  await receiver?.stop();
});

/** The every-minute cron at `time` (ms), as the runtime fires it. */
async function cronAt(time: string) {
  const url = new URL("/cdn-cgi/handler/scheduled", service().url);
  url.searchParams.set("cron", "* * * * *");
  url.searchParams.set("time", String(Date.parse(time)));
  const response = await fetch(url);
  await response.text();
}

async function settledRun(scheduleId: string): Promise<Run> {
  return eventually(`a settled run of ${scheduleId}`, async () => {
    const runs = await expectCall<{ data: Run[] }>("GET", `/v1/reports/runs?scheduleId=${scheduleId}`, 200, {
      token: tenant.key,
    });
    const run = runs.data[0];
    return run && (run.status === "succeeded" || run.status === "failed") ? run : undefined;
  });
}

describe("scheduled reports", () => {
  it("html: emailed with the SVG chart inline; csv: the same with the table attached", async () => {
    const html = await expectCall<Schedule>("POST", "/v1/reports/schedules", 201, {
      token: tenant.key,
      body: {
        name: "Daily sign-ups",
        report: "new-users",
        cron: "0 * * * *",
        format: "html",
        recipients: ["ops@acme.test", "cto@acme.test"],
      },
    });
    const csv = await expectCall<Schedule>("POST", "/v1/reports/schedules", 201, {
      token: tenant.key,
      body: { name: "User export", report: "export", cron: "0 * * * *", format: "csv", recipients: ["data@acme.test"] },
    });
    await cronAt(html.nextRunAt);
    expect(await settledRun(html.id)).toMatchObject({ status: "succeeded", error: null });
    expect(await settledRun(csv.id)).toMatchObject({ status: "succeeded", error: null });

    const mail = await eventually("the html report", async () =>
      smtp.messages.find((m) => m.envelope.to.includes("ops@acme.test")),
    );
    expect(mail.envelope.to.sort()).toEqual(["cto@acme.test", "ops@acme.test"]);
    expect(mail.auth).toEqual({ username: SMTP_USER });
    expect(mail.subject).toMatch(/^New users: Daily sign-ups/);
    expect(mail.attachments).toHaveLength(0);
    const svg = /<svg[\s\S]*?<\/svg>/.exec(mail.html || "")?.[0] ?? "";
    expect(XMLValidator.validate(svg)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" }).parse(svg);
    expect(parsed.svg["@xmlns"]).toBe("http://www.w3.org/2000/svg");
    expect(mail.text).toContain("New users:");

    const exported = await eventually("the csv report", async () =>
      smtp.messages.find((m) => m.envelope.to.includes("data@acme.test")),
    );
    expect(exported.html).toContain("User export");
    expect(exported.attachments).toHaveLength(1);
    const attachment = exported.attachments[0];
    expect(attachment?.contentType).toBe("text/csv");
    expect(attachment?.filename).toMatch(/^export-\d{4}-\d{2}-\d{2}\.csv$/);
    const text = attachment?.content.toString("utf8") ?? "";
    expect(text.split("\r\n")[0]).toMatch(/^id,username,name,status,/);
    expect(text).toContain("'=cmd|' /C calc'!A0");
    expect(text).not.toContain("@acme.test");
    // the download is the same CSV
    const download = await call("GET", `/v1/reports/runs/${(await settledRun(csv.id)).id}/download`, {
      token: tenant.key,
    });
    expect(download.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(await download.text()).toBe(text);
  });

  it("json: POSTed to the tenant's webhook endpoint, signed so that standardwebhooks verifies it", async () => {
    const endpoint = await expectCall<{ id: string; secret: string }>("POST", "/v1/webhooks", 201, {
      token: tenant.key,
      body: { url: `${receiver.url}/reports`, events: ["user.deleted"] },
    });
    const schedule = await expectCall<Schedule>("POST", "/v1/reports/schedules", 201, {
      token: tenant.key,
      body: { name: "Activity", report: "active-users", cron: "30 * * * *", format: "json", webhookId: endpoint.id },
    });
    await cronAt(schedule.nextRunAt);
    const run = await settledRun(schedule.id);
    expect(run).toMatchObject({ status: "succeeded" });
    const request = await eventually("the json report", async () =>
      receiver.requests.find((r) => r.path === "/reports" && r.headers["webhook-id"] === run.id),
    );
    const payload = new Webhook(endpoint.secret).verify(request.body, request.headers) as {
      type: string;
      data: { runId: string; report: string; charts: unknown[]; table: { columns: string[] } };
    };
    expect(payload).toMatchObject({ type: "report.generated", data: { runId: run.id, report: "active-users" } });
    expect(payload.data.table.columns).toEqual(["day", "active users"]);
  });
});
