-- hand-written: migrations/postgres/0018_gdpr_erase_definer.up.sql adds PostgreSQL functions (the
-- checked erasure entry point for operator roles and the pieces it shares with
-- anonymize_user_data) and the table marking an erasure in progress for the audit trigger; a
-- local workspace has no roles and erases with the client's own rules, so nothing changes here.
SELECT 1;
