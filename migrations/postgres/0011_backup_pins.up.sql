-- Backups kept beyond the retention policy (`ncy-admin backup pin ID --reason R`): prune never
-- deletes a pinned backup. Who pinned it and when is in the AuditLog (BACKUP_PIN).
ALTER TABLE "BackupSnapshot" ADD COLUMN "pinned_at" TIMESTAMP(3);
ALTER TABLE "BackupSnapshot" ADD COLUMN "pin_reason" TEXT;
