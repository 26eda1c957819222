/**
 * The webhook settings ([vars] in wrangler.toml), read with their defaults: a missing or malformed value falls back
 * to the documented default rather than failing deliveries.
 */

/** 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then 12 h six times: 13 attempts over about three days. */
export const DEFAULT_RETRY_SCHEDULE = [5, 30, 120, 600, 3600, 21600, 43200, 43200, 43200, 43200, 43200, 43200];
/** Queues cap a message's delaySeconds at 12 h. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

export interface WebhookSettings {
  /** Delays (s) before attempt 2, 3, …; attempt `schedule.length + 1` is the last. */
  retrySchedule: number[];
  timeoutMs: number;
  disableAfterFailures: number;
  secretOverlapSeconds: number;
}

interface WebhookVars {
  WEBHOOK_RETRY_SCHEDULE?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  WEBHOOK_DISABLE_AFTER_FAILURES?: string;
  WEBHOOK_SECRET_OVERLAP_SECONDS?: string;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value.trim() !== "" && Number.isInteger(n) && n >= 0 ? n : fallback;
}

function schedule(value: string | undefined): number[] {
  if (value === undefined || value.trim() === "") return DEFAULT_RETRY_SCHEDULE;
  const delays = value.split(",").map((part) => Number(part.trim()));
  if (!delays.every((d) => Number.isFinite(d) && d >= 0)) return DEFAULT_RETRY_SCHEDULE;
  return delays.map((d) => Math.min(d, MAX_QUEUE_DELAY_SECONDS));
}

export function webhookSettings(env: WebhookVars): WebhookSettings {
  return {
    retrySchedule: schedule(env.WEBHOOK_RETRY_SCHEDULE),
    timeoutMs: Math.max(1, positiveInt(env.WEBHOOK_TIMEOUT_MS, 10_000)),
    disableAfterFailures: Math.max(1, positiveInt(env.WEBHOOK_DISABLE_AFTER_FAILURES, 50)),
    secretOverlapSeconds: positiveInt(env.WEBHOOK_SECRET_OVERLAP_SECONDS, 86_400),
  };
}

/**
 * The delay before attempt `next` (2, 3, …), with ±20 % jitter so that endpoints failing together do not retry in
 * step; null when the schedule is exhausted. `random` is in [0, 1).
 */
export function retryDelaySeconds(settings: WebhookSettings, next: number, random = Math.random()): number | null {
  const base = settings.retrySchedule[next - 2];
  if (base === undefined) return null;
  const jittered = base * (0.8 + 0.4 * random);
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.round(jittered));
}
