-- Back to migration 0022: no export, history or sweep entry points for operator roles, and
-- SUPPORT reads legal holds only.
REVOKE INSERT ("id", "user_id", "reason", "placed_by", "placed_at"),
       UPDATE ("released_by", "released_at", "release_reason") ON "LegalHold" FROM ncy_support;
DROP FUNCTION ncy_gdpr_sweep_for(text, text[]);
DROP FUNCTION ncy_gdpr_pattern(text, text[]);
DROP FUNCTION ncy_gdpr_request_history(uuid);
DROP FUNCTION ncy_gdpr_export_rows(uuid, text);
DROP FUNCTION ncy_gdpr_export_counts(uuid);
DROP FUNCTION ncy_gdpr_export_subject(uuid);
DROP FUNCTION ncy_gdpr_export_source(text);
DROP FUNCTION ncy_gdpr_export_parts();
