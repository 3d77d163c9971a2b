DROP TABLE "BackupSnapshot";
DROP TABLE "Consent";
DROP TABLE "GdprRequest";
