-- hand-written: kept alongside 0023_gdpr_export_definer.up.sql.
SELECT 1;
