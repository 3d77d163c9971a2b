-- hand-written: pg2sqlite converts column lines of CREATE TABLE only; this is
-- migrations/postgres/0011_backup_pins.up.sql with SQLite's types (timestamps are TEXT).
ALTER TABLE "BackupSnapshot" ADD COLUMN "pinned_at" TEXT;
ALTER TABLE "BackupSnapshot" ADD COLUMN "pin_reason" TEXT;
