ALTER TABLE "BackupSnapshot" DROP COLUMN IF EXISTS "encrypted_to";
