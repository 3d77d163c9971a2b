DROP FUNCTION ncy_api_key_create(uuid, uuid, text, text[], timestamp);
