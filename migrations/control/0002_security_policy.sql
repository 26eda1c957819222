-- Each tenant's security policy (password rules, required second factor, CORS origins), as JSON validated by
-- SecurityPolicySchema. Read with the tenant on the login path, so it lives beside the tenant row.
ALTER TABLE tenants ADD COLUMN security_policy TEXT NOT NULL DEFAULT '{}';
