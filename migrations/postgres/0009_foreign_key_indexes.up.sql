-- Indexes the platform's Indexing Strategy leaves out, found by our own health check on a
-- fresh database (every foreign key without a supporting index), plus the session lookup.
-- Without them a session check scans "Session", listing a user's sessions or API keys scans
-- the whole table, and deleting a user, organization or role scans every referencing table.
-- Plain CREATE INDEX (migrations run in a transaction): on a large live "Session" table, run
-- this migration in a quiet moment, or create the indexes beforehand with CONCURRENTLY under
-- these names (IF NOT EXISTS then keeps them).
CREATE INDEX IF NOT EXISTS "Session_refresh_token_idx" ON "Session"("refresh_token");
CREATE INDEX IF NOT EXISTS "Session_user_id_idx" ON "Session"("user_id");
CREATE INDEX IF NOT EXISTS "ApiKey_user_id_idx" ON "ApiKey"("user_id");
CREATE INDEX IF NOT EXISTS "ApiKey_key_hash_idx" ON "ApiKey"("key_hash");
CREATE INDEX IF NOT EXISTS "RolePermission_permission_id_idx" ON "RolePermission"("permission_id");
CREATE INDEX IF NOT EXISTS "UserRoleMap_role_id_idx" ON "UserRoleMap"("role_id");
CREATE INDEX IF NOT EXISTS "UserRoleMap_granted_by_idx" ON "UserRoleMap"("granted_by");
CREATE INDEX IF NOT EXISTS "OrganizationMember_user_id_idx" ON "OrganizationMember"("user_id");
CREATE INDEX IF NOT EXISTS "Team_organization_id_idx" ON "Team"("organization_id");
CREATE INDEX IF NOT EXISTS "TeamMember_user_id_idx" ON "TeamMember"("user_id");
CREATE INDEX IF NOT EXISTS "Project_organization_id_idx" ON "Project"("organization_id");
CREATE INDEX IF NOT EXISTS "GdprRequest_identity_verified_by_idx" ON "GdprRequest"("identity_verified_by");
CREATE INDEX IF NOT EXISTS "GdprRequest_handler_id_idx" ON "GdprRequest"("handler_id");
CREATE INDEX IF NOT EXISTS "BackupSnapshot_created_by_idx" ON "BackupSnapshot"("created_by");
CREATE INDEX IF NOT EXISTS "LegalHold_placed_by_idx" ON "LegalHold"("placed_by");
CREATE INDEX IF NOT EXISTS "LegalHold_released_by_idx" ON "LegalHold"("released_by");
