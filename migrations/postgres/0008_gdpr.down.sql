DROP FUNCTION IF EXISTS anonymize_user_data(UUID);
DROP INDEX IF EXISTS "Consent_user_id_created_at_idx";
DROP INDEX IF EXISTS "LoginAttempt_user_id_idx";
DROP INDEX IF EXISTS "AccessLog_timestamp_idx";
DROP INDEX IF EXISTS "AccessLog_user_id_timestamp_id_idx";
DROP INDEX IF EXISTS "AuditLog_user_id_created_at_id_idx";
DROP TABLE "LegalHold";
