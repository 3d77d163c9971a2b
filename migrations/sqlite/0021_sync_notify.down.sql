-- hand-written: kept alongside 0021_sync_notify.up.sql.
SELECT 1;
