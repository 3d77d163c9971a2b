-- Offline caches wake up on a change: a statement that records changes in SyncChange also
-- notifies the channel ncy_sync (delivered at commit, once per transaction), so a watching client
-- (`sync run --watch`, the window) pulls within milliseconds instead of at its next poll.
CREATE FUNCTION ncy_sync_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM pg_notify('ncy_sync', '');
  RETURN NULL;
END $$;

CREATE TRIGGER "SyncChange_notify" AFTER INSERT ON "SyncChange"
  FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_notify();
