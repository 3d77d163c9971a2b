-- Back to migration 0022: no export entry points for operator roles.
DROP FUNCTION ncy_gdpr_export_rows(uuid, text);
DROP FUNCTION ncy_gdpr_export_counts(uuid);
DROP FUNCTION ncy_gdpr_export_subject(uuid);
DROP FUNCTION ncy_gdpr_export_source(text);
DROP FUNCTION ncy_gdpr_export_parts();
