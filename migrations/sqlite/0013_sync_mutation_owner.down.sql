-- hand-written: nothing to undo on SQLite (see 0013_sync_mutation_owner.up.sql).
SELECT 1;
