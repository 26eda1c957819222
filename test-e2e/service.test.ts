import { describe, expect, it } from "vitest";
import { createTenant, eventually, expectCall, runCron, uniqueEmail } from "./helpers/service";

// The end-to-end project's own footing: the worker the global setup started answers over real HTTP, its queues run
// (an event reaches the log through the outbox), and its cron handler can be fired.
describe("the service under wrangler's local runtime", () => {
  it("serves a tenant's writes and lists their events", async () => {
    const tenant = await createTenant();
    const user = await expectCall<{ id: string }>("POST", "/v1/users", 201, {
      token: tenant.key,
      body: { email: uniqueEmail(), name: "E2E" },
    });
    const events = await eventually("the user.created event", async () => {
      const page = await expectCall<{ data: { type: string; subjectId: string }[] }>(
        "GET",
        "/v1/events?type=user.created",
        200,
        { token: tenant.key },
      );
      return page.data.find((event) => event.subjectId === user.id);
    });
    expect(events.type).toBe("user.created");
  });

  it("runs the cron handler on demand", async () => {
    await runCron("* * * * *");
  });
});
