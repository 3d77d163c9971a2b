-- hand-written: migrations/postgres/0017_user_isolation.up.sql adds Row-Level Security for
-- operator roles; a local workspace has no database roles, so nothing changes here.
SELECT 1;
