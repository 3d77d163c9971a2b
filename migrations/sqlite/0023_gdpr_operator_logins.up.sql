-- hand-written: migrations/postgres/0023_gdpr_operator_logins.up.sql adds PostgreSQL functions
-- (the checked export entry points for operator roles); a local workspace has no roles and
-- exports with the client's own specs, so nothing changes here.
SELECT 1;
