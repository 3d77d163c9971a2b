-- hand-written: kept alongside 0011_backup_pins.up.sql (same as the PostgreSQL file).
ALTER TABLE "BackupSnapshot" DROP COLUMN "pin_reason";
ALTER TABLE "BackupSnapshot" DROP COLUMN "pinned_at";
