ALTER TABLE "BackupSnapshot" DROP COLUMN "pin_reason";
ALTER TABLE "BackupSnapshot" DROP COLUMN "pinned_at";
