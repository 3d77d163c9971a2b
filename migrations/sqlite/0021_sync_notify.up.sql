-- hand-written: migrations/postgres/0021_sync_notify.up.sql wakes watching clients with
-- PostgreSQL's NOTIFY; a local workspace has no change feed to watch, so nothing changes here.
SELECT 1;
