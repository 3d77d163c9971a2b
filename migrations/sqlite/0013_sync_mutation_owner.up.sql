-- hand-written: migrations/postgres/0013_sync_mutation_owner.up.sql changes PostgreSQL grants
-- and policies only; a local workspace has no roles, so nothing changes here.
SELECT 1;
