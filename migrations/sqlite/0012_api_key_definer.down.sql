-- hand-written: nothing to undo on SQLite (see 0012_api_key_definer.up.sql).
SELECT 1;
