/**
 * The churn demo's synthetic behaviour, with known ground truth (docs/churn.md): pure and seeded, so the same
 * options give the same users and events on every run. Used by `npm run seed:demo` (scripts/seed-demo.mjs), the
 * churn evaluation (bench/churn.mjs) and the workers tests (test/churn/).
 *
 * Each user belongs to a cohort with a weekly hazard of leaving and a daily chance of being active. A user's
 * lifetime is drawn first (geometric, from the hazard), so the "fading" cohort's activity can thin out over the
 * weeks before they leave, as real leavers' does. Users sign up uniformly over `days` days; the sign-up day is always
 * active. After leaving a user does nothing more.
 */

/** @type {Record<string, {share: number, weeklyHazard: number, activeDayRate: number, fadeDays: number, types: number}>} */
export const COHORTS = {
  loyal: { share: 0.35, weeklyHazard: 0.02, activeDayRate: 0.5, fadeDays: 0, types: 5 },
  casual: { share: 0.3, weeklyHazard: 0.08, activeDayRate: 0.2, fadeDays: 0, types: 3 },
  trial: { share: 0.2, weeklyHazard: 0.25, activeDayRate: 0.15, fadeDays: 0, types: 2 },
  fading: { share: 0.15, weeklyHazard: 0.1, activeDayRate: 0.5, fadeDays: 42, types: 3 },
};

const EVENT_TYPES = ["page.viewed", "report.viewed", "project.updated", "report.exported", "comment.added"];
const DAY_MS = 86_400_000;

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cohortOf(random) {
  let u = random();
  for (const [name, cohort] of Object.entries(COHORTS)) {
    u -= cohort.share;
    if (u < 0) return name;
  }
  return "loyal";
}

/**
 * @param {{users?: number, days?: number, seed?: number, now?: number, prefix?: string}} [options]
 * `now`: the time the history ends (default: the current UTC midnight, so today stays empty and every event is in
 * the past); `prefix`: of the users' externalId and email.
 */
export function generateDemo(options = {}) {
  const { users: count = 2000, days = 180, seed = 20261128, prefix = "demo" } = options;
  const now = options.now ?? Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const random = rng(seed);
  const users = [];
  const events = [];
  for (let i = 0; i < count; i++) {
    const cohortName = cohortOf(random);
    const cohort = COHORTS[cohortName];
    const signupDaysAgo = 1 + Math.floor(random() * days);
    const dailyHazard = 1 - (1 - cohort.weeklyHazard) ** (1 / 7);
    // days active as a customer (≥ 1): geometric with the daily hazard
    const lifetime = 1 + Math.floor(Math.log(1 - random()) / Math.log(1 - dailyHazard));
    const leftDaysAgo = signupDaysAgo - lifetime >= 1 ? signupDaysAgo - lifetime : null;
    const externalId = `${prefix}-${String(i).padStart(5, "0")}`;
    users.push({ externalId, email: `${externalId}@example.com`, cohort: cohortName, signupDaysAgo, leftDaysAgo });
    const lastDayAgo = leftDaysAgo ?? 1;
    for (let ago = signupDaysAgo; ago >= lastDayAgo; ago--) {
      const age = signupDaysAgo - ago;
      const untilLeaving = leftDaysAgo === null ? Number.POSITIVE_INFINITY : ago - leftDaysAgo;
      const fade = cohort.fadeDays > 0 && untilLeaving < cohort.fadeDays ? untilLeaving / cohort.fadeDays : 1;
      if (age > 0 && random() >= cohort.activeDayRate * fade) continue;
      const n = 1 + Math.floor(random() * 3);
      for (let e = 0; e < n; e++) {
        const at = now - ago * DAY_MS + Math.floor(random() * DAY_MS);
        events.push({
          externalId,
          type: EVENT_TYPES[Math.floor(random() * cohort.types)],
          occurredAt: new Date(at).toISOString(),
          id: `${externalId}-${ago}-${e}`,
        });
      }
    }
  }
  return { users, events, truth: groundTruth(users) };
}

/** Per cohort: users, how many left (ever, and in the last 30 days of the history), the weekly hazard. */
export function groundTruth(users) {
  const truth = {};
  for (const [name, cohort] of Object.entries(COHORTS)) {
    const members = users.filter((u) => u.cohort === name);
    truth[name] = {
      users: members.length,
      weeklyHazard: cohort.weeklyHazard,
      activeDayRate: cohort.activeDayRate,
      left: members.filter((u) => u.leftDaysAgo !== null).length,
      leftInLast30Days: members.filter((u) => u.leftDaysAgo !== null && u.leftDaysAgo <= 30).length,
    };
  }
  return truth;
}
