-- hand-written: kept alongside 0019_backup_encryption.up.sql (same as the PostgreSQL file).
ALTER TABLE "BackupSnapshot" DROP COLUMN "encrypted_to";
