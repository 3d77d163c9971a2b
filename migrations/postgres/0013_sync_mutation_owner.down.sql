DROP POLICY own_update ON "SyncMutation";
DROP POLICY own_insert ON "SyncMutation";
DROP POLICY own_read ON "SyncMutation";
DROP POLICY platform ON "SyncMutation";
ALTER TABLE "SyncMutation" DISABLE ROW LEVEL SECURITY;
REVOKE UPDATE ("status", "result") ON "SyncMutation" FROM ncy_operator;
