import { Cron } from "croner";

/**
 * When schedules run: a 5-field cron expression read in an IANA time zone (croner, DST included: a local time that
 * does not exist on the spring-forward day runs at the next existing minute, one that exists twice runs once), or a
 * frequency turned into one.
 */

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The error of a cron expression (5 fields: minute hour day-of-month month day-of-week), or null. */
export function cronProblem(expression: string): string | null {
  if (expression.trim().split(/\s+/).length !== 5) return "needs 5 fields: minute hour day-of-month month day-of-week";
  try {
    const cron = new Cron(expression, { paused: true, mode: "5-part" });
    if (cron.nextRun(new Date()) === null) return "never runs";
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : "not a cron expression";
  }
}

export function cronOfFrequency(
  frequency: "daily" | "weekly" | "monthly",
  time: string,
  weekday: number,
  dayOfMonth: number,
): string {
  const [hour, minute] = time.split(":").map(Number);
  if (frequency === "daily") return `${minute} ${hour} * * *`;
  if (frequency === "weekly") return `${minute} ${hour} * * ${weekday}`;
  return `${minute} ${hour} ${dayOfMonth} * *`;
}

function cronOf(expression: string, timezone: string): Cron {
  return new Cron(expression, { paused: true, mode: "5-part", timezone });
}

/** The first run strictly after `after` (ISO, UTC), or null when there is none. */
export function nextRunAfter(expression: string, timezone: string, after: Date): string | null {
  return cronOf(expression, timezone).nextRun(after)?.toISOString() ?? null;
}

/** The run before `at`: the start of the period a run at `at` reports on (a day before, when there is none). */
export function previousRun(expression: string, timezone: string, at: Date): string {
  const previous = cronOf(expression, timezone).previousRuns(1, at)[0];
  return (previous ?? new Date(at.getTime() - 86_400_000)).toISOString();
}
