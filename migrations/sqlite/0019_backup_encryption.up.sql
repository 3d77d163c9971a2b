-- hand-written: pg2sqlite converts column lines of CREATE TABLE only; this is
-- migrations/postgres/0019_backup_encryption.up.sql.
ALTER TABLE "BackupSnapshot" ADD COLUMN "encrypted_to" TEXT;
