-- Back to migration 0023.
DROP FUNCTION ncy_sync_prune(timestamp);
REVOKE SELECT ON "SyncState" FROM ncy_operator;
DROP POLICY operator_update ON "ApiKey";
DROP POLICY operator_delete ON "ApiKey";
DROP POLICY operator_delete ON "Session";
DROP POLICY operator_read ON "ApiKey";
DROP POLICY operator_read ON "Session";
DROP POLICY platform ON "ApiKey";
DROP POLICY platform ON "Session";
ALTER TABLE "ApiKey" DISABLE ROW LEVEL SECURITY;
ALTER TABLE "Session" DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ("id", "user_id", "scopes", "last_used_at", "expires_at", "created_at") ON "ApiKey" FROM ncy_operator;
REVOKE SELECT ("id", "user_id", "ip_address", "user_agent", "expires_at", "created_at", "authenticated_at")
  ON "Session" FROM ncy_operator;
