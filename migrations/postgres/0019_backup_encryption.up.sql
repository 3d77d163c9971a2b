-- Backups encrypted at rest (age, X25519): the recipient a backup was encrypted to, so that
-- verify and restore find its key in the keychain after the default key has changed.
ALTER TABLE "BackupSnapshot" ADD COLUMN "encrypted_to" TEXT;
