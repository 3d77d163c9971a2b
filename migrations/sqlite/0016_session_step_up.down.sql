-- hand-written: undoes 0016_session_step_up.up.sql.
ALTER TABLE "Session" DROP COLUMN "authenticated_at";
