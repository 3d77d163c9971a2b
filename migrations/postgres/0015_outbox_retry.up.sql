-- The offline outbox never stalls (crates/sync/src/outbox.rs): a push that fails for a passing
-- reason (server unreachable) counts an attempt, keeps the error and the time of the next try
-- (exponential backoff); an entry the server can never apply is parked with its reason and
-- skipped, so it never blocks the entries behind it. `schema_version` is the cache's migration
-- version when the edit was queued, checked before replay.
ALTER TABLE "SyncOutbox" ADD COLUMN "attempts" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "SyncOutbox" ADD COLUMN "last_error" TEXT;
ALTER TABLE "SyncOutbox" ADD COLUMN "next_attempt_at" TIMESTAMP(3);
ALTER TABLE "SyncOutbox" ADD COLUMN "parked_at" TIMESTAMP(3);
ALTER TABLE "SyncOutbox" ADD COLUMN "schema_version" BIGINT;
