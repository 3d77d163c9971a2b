-- hand-written: see 0007_sync.up.sql.
DROP TABLE "SyncState";
DROP TABLE "SyncConflict";
DROP TABLE "SyncOutbox";
DROP TABLE "SyncMutation";
DROP INDEX IF EXISTS "SyncChange_xid_idx";
DROP TABLE "SyncChange";
