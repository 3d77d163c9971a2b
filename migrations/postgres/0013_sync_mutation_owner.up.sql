-- Offline edits pushed over an operator's own login record their outcome in "SyncMutation":
-- the push claims the mutation id first (INSERT), then stores the outcome (UPDATE of status and
-- result). Operators could insert and read these rows but not update them, so no operator could
-- push (found by the authority sync test). Each operator now reads and writes only the
-- mutations recorded under their own user (an outcome holds task values, which another
-- organization's operator may not read); global roles (ADMIN, SYSTEM) read every one, and the
-- platform's own role is unaffected.
GRANT UPDATE ("status", "result") ON "SyncMutation" TO ncy_operator;

ALTER TABLE "SyncMutation" ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform ON "SyncMutation" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY own_read ON "SyncMutation" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "operator_id" = (SELECT ncy_active_user_id()));
CREATE POLICY own_insert ON "SyncMutation" FOR INSERT TO ncy_operator
  WITH CHECK ("operator_id" = (SELECT ncy_active_user_id()));
CREATE POLICY own_update ON "SyncMutation" FOR UPDATE TO ncy_operator
  USING ("operator_id" = (SELECT ncy_active_user_id()))
  WITH CHECK ("operator_id" = (SELECT ncy_active_user_id()));
