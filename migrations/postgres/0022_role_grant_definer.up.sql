-- Role grants go through checked entry points, like passwords (ncy_set_password, 0010) and API
-- keys (ncy_api_key_create, 0012): no operator role writes "UserRoleMap" directly any more.
-- ncy_grant_role / ncy_revoke_role check the caller holds roles.write, record the connected
-- operator as the granter, and run in the caller's transaction, where the table's audit and
-- operator-sync triggers fire as before. Each returns false when nothing changed.
REVOKE INSERT, UPDATE, DELETE ON "UserRoleMap" FROM ncy_admin;

CREATE FUNCTION ncy_grant_role(uid uuid, rid uuid, granter uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n integer;
BEGIN
  PERFORM ncy_require('roles.write');
  INSERT INTO "UserRoleMap" ("user_id", "role_id", "granted_at", "granted_by")
  VALUES (uid, rid, (now() AT TIME ZONE 'UTC')::timestamp(3),
          CASE WHEN ncy_is_operator() THEN ncy_active_user_id() ELSE granter END)
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n > 0;
END $$;

CREATE FUNCTION ncy_revoke_role(uid uuid, rid uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n integer;
BEGIN
  PERFORM ncy_require('roles.write');
  DELETE FROM "UserRoleMap" WHERE "user_id" = uid AND "role_id" = rid;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n > 0;
END $$;

REVOKE ALL ON FUNCTION ncy_grant_role(uuid, uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_revoke_role(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_grant_role(uuid, uuid, uuid) TO ncy_operator;
GRANT EXECUTE ON FUNCTION ncy_revoke_role(uuid, uuid) TO ncy_operator;
