-- hand-written: the same column as migrations/postgres/0016_session_step_up.up.sql.
ALTER TABLE "Session" ADD COLUMN "authenticated_at" TEXT;
