-- hand-written: migrations/postgres/0024_operator_login_gaps.up.sql changes grants and row
-- policies for operator roles and adds a PostgreSQL function; a local workspace has no roles, so
-- nothing changes here.
SELECT 1;
