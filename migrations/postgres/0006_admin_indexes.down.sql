DROP INDEX "ErrorLog_created_at_id_idx";
DROP INDEX "AccessLog_timestamp_id_idx";
DROP INDEX "AuditLog_target_id_created_at_idx";
