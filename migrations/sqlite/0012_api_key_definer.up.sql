-- hand-written: migrations/postgres/0012_api_key_definer.up.sql adds a PostgreSQL function
-- only (a checked entry point for operator roles); a local workspace has no roles, so nothing
-- changes here.
SELECT 1;
