-- hand-written: migrations/postgres/0022_role_grant_definer.up.sql adds PostgreSQL functions
-- (checked entry points for operator roles) and revokes a grant; a local workspace has no
-- roles, so nothing changes here.
SELECT 1;
