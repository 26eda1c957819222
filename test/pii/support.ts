import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { ServiceContext } from "../../src/core/context";
import { tenantDatabase } from "../helpers/db";

/** An email with upper-case letters and a random part: a value that can only come from this test. */
export function markerEmail(label: string): string {
  return `${label}.Marker.${crypto.randomUUID().slice(0, 8).toUpperCase()}@Example.COM`;
}

/** A random E.164 number (the digits are the marker). */
export function markerPhone(): string {
  const digits = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b % 10).join("");
  return `+1${(2 + (Number(digits[0]) % 8)).toString()}${digits.slice(1)}`;
}

/** Every form a personal value could take in storage: as given, lower-cased, trimmed. */
export function formsOf(values: readonly string[]): string[] {
  return [...new Set(values.flatMap((v) => [v, v.toLowerCase(), v.trim().toLowerCase()]))];
}

/** Asserts that none of the values occurs in the text (naming the first that does). */
export function expectAbsent(text: string, values: readonly string[]): void {
  const found = formsOf(values).filter((value) => text.includes(value));
  expect(found).toEqual([]);
}

/** The plain service context of a tenant (its database, unless given), to call services as a route or job would. */
export async function tenantContext(tenantId: string, db?: D1Database): Promise<ServiceContext> {
  return {
    env,
    db: db ?? (await tenantDatabase(tenantId)),
    scope: tenantId,
    tenant: null,
    actor: { type: "system", id: "test" },
    request: { requestId: "test", ip: null, userAgent: null },
    waitUntil: () => undefined,
  };
}
