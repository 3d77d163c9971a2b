-- hand-written: the same columns as migrations/postgres/0015_outbox_retry.up.sql (pg2sqlite
-- converts CREATE TABLE only).
ALTER TABLE "SyncOutbox" ADD COLUMN "attempts" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "SyncOutbox" ADD COLUMN "last_error" TEXT;
ALTER TABLE "SyncOutbox" ADD COLUMN "next_attempt_at" TEXT;
ALTER TABLE "SyncOutbox" ADD COLUMN "parked_at" TEXT;
ALTER TABLE "SyncOutbox" ADD COLUMN "schema_version" INTEGER;
