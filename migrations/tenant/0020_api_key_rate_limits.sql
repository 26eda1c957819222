-- An API key's own rate-limit policy (docs/rate-limits.md), JSON `{algorithm, burst, ratePerSecond}`; NULL: the
-- tenant's. Read with the key on authentication.
ALTER TABLE api_keys ADD COLUMN rate_limit TEXT;
