-- hand-written: nothing to undo on SQLite (see 0018_gdpr_erase_definer.up.sql).
SELECT 1;
