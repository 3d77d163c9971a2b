DROP TABLE "BackupSnapshot";
DROP TABLE "Consent";
DROP TABLE "GdprRequest";
DROP TYPE "GdprRequestStatus";
DROP TYPE "GdprRequestType";
