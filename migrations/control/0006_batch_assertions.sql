-- Assertions inside a control-database batch, as in the tenant databases (tenant migration 0001): a guarded
-- statement followed by `INSERT INTO _batch_assertions (ok) SELECT changes() > 0` rolls the whole batch back when
-- it matched no row. First use: a sub-account is inserted only while its parent has room in its plan's quota.
CREATE TABLE _batch_assertions (ok INTEGER NOT NULL CHECK (ok = 1));
