ALTER TABLE "Session" DROP COLUMN "authenticated_at";
