-- hand-written: kept alongside 0023_gdpr_operator_logins.up.sql.
SELECT 1;
