-- hand-written: nothing to undo on SQLite (see 0017_user_isolation.up.sql).
SELECT 1;
