export interface DemoUser {
  externalId: string;
  email: string;
  cohort: "loyal" | "casual" | "trial" | "fading";
  signupDaysAgo: number;
  /** Days ago the user left (their last possible active day); null if still a customer. */
  leftDaysAgo: number | null;
}
export interface DemoEvent {
  externalId: string;
  type: string;
  occurredAt: string;
  id: string;
}
export interface CohortTruth {
  users: number;
  weeklyHazard: number;
  activeDayRate: number;
  left: number;
  leftInLast30Days: number;
}
export const COHORTS: Record<
  DemoUser["cohort"],
  { share: number; weeklyHazard: number; activeDayRate: number; fadeDays: number; types: number }
>;
export function rng(seed: number): () => number;
export function generateDemo(options?: {
  users?: number;
  days?: number;
  seed?: number;
  now?: number;
  prefix?: string;
}): { users: DemoUser[]; events: DemoEvent[]; truth: Record<DemoUser["cohort"], CohortTruth> };
export function groundTruth(users: DemoUser[]): Record<DemoUser["cohort"], CohortTruth>;
