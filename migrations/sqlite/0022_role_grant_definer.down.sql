-- hand-written: kept alongside 0022_role_grant_definer.up.sql.
SELECT 1;
