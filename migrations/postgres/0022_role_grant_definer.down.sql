DROP FUNCTION IF EXISTS ncy_revoke_role(uuid, uuid);
DROP FUNCTION IF EXISTS ncy_grant_role(uuid, uuid, uuid);
GRANT INSERT, UPDATE, DELETE ON "UserRoleMap" TO ncy_admin;
