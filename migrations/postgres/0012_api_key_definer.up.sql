-- API keys are created through a checked entry point, like passwords (ncy_set_password): no
-- operator role may write "ApiKey"."key_hash" directly, and none can read it. The client makes
-- the key and sends only its SHA-256; the function (returning the key's created_at) checks the caller holds users.credentials,
-- that the user exists and is not deleted, and the hash's form. The app's audit row and the
-- audit trigger land in the same transaction as the key.
CREATE FUNCTION ncy_api_key_create(kid uuid, uid uuid, hash text, key_scopes text[], expires timestamp(3))
RETURNS timestamp
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  created timestamp;
BEGIN
  PERFORM ncy_require('users.credentials');
  IF hash !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'API key hashes are hex SHA-256' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(key_scopes) = 0 THEN
    RAISE EXCEPTION 'an API key needs at least one scope' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM "User" WHERE "id" = uid AND "deleted_at" IS NULL) THEN
    RAISE EXCEPTION 'no active user %', uid USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO "ApiKey" ("id", "key_hash", "user_id", "scopes", "expires_at", "created_at")
  VALUES (kid, hash, uid, key_scopes, expires, (now() AT TIME ZONE 'UTC')::timestamp(3))
  RETURNING "created_at" INTO created;
  RETURN created;
END $$;

REVOKE ALL ON FUNCTION ncy_api_key_create(uuid, uuid, text, text[], timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_api_key_create(uuid, uuid, text, text[], timestamp) TO ncy_operator;
