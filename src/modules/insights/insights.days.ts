import { DAY_MS } from "./insights.schema";

/** The UTC day (YYYY-MM-DD) of an instant. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export const addDays = (day: string, days: number): string => dayOf(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);

/** Every day from `first` to `last`, both included. */
export function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (let day = first; day <= last; day = addDays(day, 1)) days.push(day);
  return days;
}

/** The Monday starting a day's ISO week. */
export function mondayOf(day: string): string {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(day, -((weekday + 6) % 7));
}

/** A Monday's ISO week label, `2026-W05`: the year is its Thursday's. */
export function isoWeekOf(monday: string): string {
  const thursday = new Date(`${addDays(monday, 3)}T00:00:00Z`);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/**
 * The days a period [from, to) touches, by UTC day: from the day of `from` to the day of the last instant before
 * `to`. The figures by day cover whole days (docs/insights.md).
 */
export function periodDays(from: number, to: number): { firstDay: string; lastDay: string } {
  return { firstDay: dayOf(from), lastDay: dayOf(to - 1) };
}
