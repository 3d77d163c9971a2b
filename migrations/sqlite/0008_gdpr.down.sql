-- hand-written: counterpart of migrations/postgres/0008_gdpr.down.sql without the function.
DROP INDEX IF EXISTS "Consent_user_id_created_at_idx";
DROP INDEX IF EXISTS "LoginAttempt_user_id_idx";
DROP INDEX IF EXISTS "AccessLog_timestamp_idx";
DROP INDEX IF EXISTS "AccessLog_user_id_timestamp_id_idx";
DROP INDEX IF EXISTS "AuditLog_user_id_created_at_id_idx";
DROP TABLE "LegalHold";
