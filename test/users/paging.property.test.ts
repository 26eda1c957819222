import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createTenant, json, type TestTenant } from "../helpers/api";
import { type ApiUser, bulkCreate, bulkOk, listIds } from "./support";

interface Page {
  data: ApiUser[];
  nextCursor: string | null;
}

/** What happens between two pages of the walk. */
interface Churn {
  creates: number;
  softDeletes: number[];
  purges: number[];
}

let tenant: TestTenant;

beforeAll(async () => {
  tenant = await createTenant({ name: "Users paging property" });
  await bulkCreate(tenant, 60, "prop");
});

const churn: fc.Arbitrary<Churn> = fc.record({
  creates: fc.nat({ max: 2 }),
  softDeletes: fc.array(fc.nat(), { maxLength: 2 }),
  purges: fc.array(fc.nat(), { maxLength: 1 }),
});

/** Applies one churn step to the live users; returns the ids it removed from the live set. */
async function applyChurn(step: Churn, live: string[]): Promise<string[]> {
  const removed: string[] = [];
  const pick = (n: number) => {
    if (live.length === 0) return undefined;
    const [id] = live.splice(n % live.length, 1);
    return id;
  };
  const operations: unknown[] = [];
  for (let i = 0; i < step.creates; i++) {
    operations.push({ op: "create", data: { email: `churn.${crypto.randomUUID()}@example.com` } });
  }
  for (const n of step.softDeletes) {
    const id = pick(n);
    if (id) {
      removed.push(id);
      operations.push({ op: "delete", id });
    }
  }
  if (operations.length > 0) {
    const results = await bulkOk(tenant, { operations });
    for (const r of results) {
      expect([200, 201]).toContain(r.status);
      if (r.status === 201) live.push(r.id as string);
    }
  }
  for (const n of step.purges) {
    const id = pick(n);
    if (!id) continue;
    removed.push(id);
    const response = await call("DELETE", `/v1/users/${id}?permanent=true`, { token: tenant.key });
    expect(response.status).toBe(204);
  }
  return removed;
}

describe("cursor paging under churn (property)", () => {
  it("visits every user present for the whole walk exactly once, in order, whatever the limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom("createdAt", "-createdAt"),
        fc.array(churn, { minLength: 1, maxLength: 12 }),
        async (limit, sort, steps) => {
          const live = await listIds(tenant);
          const atStart = new Set(live);
          const removed = new Set<string>();
          const seen: ApiUser[] = [];
          let cursor: string | null = null;
          let pages = 0;
          do {
            const params = new URLSearchParams({ limit: String(limit), sort });
            if (cursor) params.set("cursor", cursor);
            const response = await call("GET", `/v1/users?${params}`, { token: tenant.key });
            expect(response.status).toBe(200);
            const page = await json<Page>(response);
            expect(page.data.length).toBeLessThanOrEqual(limit);
            seen.push(...page.data);
            cursor = page.nextCursor;
            const step = steps[pages % steps.length] as Churn;
            pages++;
            // churn only during the first dozen pages, so that the walk ends
            if (cursor && pages <= 12) for (const id of await applyChurn(step, live)) removed.add(id);
          } while (cursor && pages < 500);
          expect(cursor).toBeNull();

          const ids = seen.map((u) => u.id);
          // never twice
          expect(new Set(ids).size).toBe(ids.length);
          // never a deleted user
          expect(seen.every((u) => u.status !== "deleted")).toBe(true);
          // those present for the whole walk: exactly once
          const stable = [...atStart].filter((id) => !removed.has(id));
          const seenSet = new Set(ids);
          expect(stable.filter((id) => !seenSet.has(id))).toEqual([]);
          // in order
          const keys = seen.map((u) => `${u.createdAt}|${u.id}`);
          const sorted = [...keys].sort();
          expect(keys).toEqual(sort === "-createdAt" ? sorted.reverse() : sorted);
        },
      ),
      { numRuns: 15 },
    );
  });
});
