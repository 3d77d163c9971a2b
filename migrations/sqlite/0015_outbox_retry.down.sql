-- hand-written: undoes 0015_outbox_retry.up.sql.
ALTER TABLE "SyncOutbox" DROP COLUMN "schema_version";
ALTER TABLE "SyncOutbox" DROP COLUMN "parked_at";
ALTER TABLE "SyncOutbox" DROP COLUMN "next_attempt_at";
ALTER TABLE "SyncOutbox" DROP COLUMN "last_error";
ALTER TABLE "SyncOutbox" DROP COLUMN "attempts";
