-- A tenant's rate limits (docs/rate-limits.md): its own policy, replacing the plan's default for each of its
-- credentials, and a campaign boost. JSON `{policy?: {algorithm, burst, ratePerSecond}, boost?: {multiplier,
-- startsAt, endsAt}}`; NULL: the plan's default, no boost. Read with the tenant on authentication.
ALTER TABLE tenants ADD COLUMN rate_limits TEXT;
