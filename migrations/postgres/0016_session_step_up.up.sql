-- Step-up (crates/core/src/auth/step_up.rs): destructive actions in the window ask for the
-- operator's password again when their last authentication is older than 10 minutes. The time
-- of that authentication (the login, or the last step-up) is kept on the session row.
ALTER TABLE "Session" ADD COLUMN "authenticated_at" TIMESTAMP(3);
