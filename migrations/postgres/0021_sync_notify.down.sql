DROP TRIGGER IF EXISTS "SyncChange_notify" ON "SyncChange";
DROP FUNCTION IF EXISTS ncy_sync_notify();
