-- hand-written: migrations/postgres/0014_audit_seal_plan.up.sql tunes PostgreSQL trigger
-- functions only; a local workspace has no such triggers, so nothing changes here.
SELECT 1;
