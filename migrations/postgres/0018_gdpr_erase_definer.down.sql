-- Back to migrations 0008 and 0010: the platform's anonymize_user_data() with its rules inline,
-- the audit write trigger without the erasure mark, and no erasure entry point.
DROP FUNCTION ncy_gdpr_erase(uuid, text, integer, text);

CREATE OR REPLACE FUNCTION anonymize_user_data(user_id UUID)
RETURNS JSONB AS $$
#variable_conflict use_column
DECLARE
  v_uid UUID := $1;
  v_now TIMESTAMP(3) := (now() AT TIME ZONE 'UTC');
  v_email TEXT;
  v_local TEXT;
  v_terms TEXT[] := '{}';
  v_ips TEXT[] := '{}';
  v_pat TEXT := NULL;
  v_alt TEXT;
  v_rules JSONB := '[]';
  v_cast TEXT;
  n BIGINT;
  r RECORD;
BEGIN
  SELECT lower("email") INTO v_email FROM "User" WHERE "id" = v_uid FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'anonymize_user_data: user % not found', v_uid;
  END IF;
  IF EXISTS (SELECT 1 FROM "LegalHold" h WHERE h."user_id" = v_uid AND h."released_at" IS NULL) THEN
    RAISE EXCEPTION 'anonymize_user_data: user % is under a legal hold; erasure refused until the hold is released', v_uid;
  END IF;
  IF EXISTS (SELECT 1 FROM "Organization" o WHERE o."owner_id" = v_uid AND o."deleted_at" IS NULL) THEN
    RAISE EXCEPTION 'anonymize_user_data: user % still owns an organization; transfer ownership first', v_uid;
  END IF;

  -- Terms to redact: the email, its local part where specific enough, the subject's own IPs.
  IF v_email NOT LIKE 'anonymized\_%@deleted.invalid' THEN
    v_terms := ARRAY[v_email];
    v_local := split_part(v_email, '@', 1);
    IF length(v_local) >= 5 AND v_local ~ '[^a-z]' THEN
      v_terms := v_terms || v_local;
    END IF;
  END IF;
  SELECT coalesce(array_agg(DISTINCT ip ORDER BY ip), '{}') INTO v_ips FROM (
    SELECT host(s."ip_address") AS ip FROM "Session" s WHERE s."user_id" = v_uid AND s."ip_address" IS NOT NULL
    UNION SELECT host(a."ip_address") FROM "AuditLog" a WHERE a."user_id" = v_uid AND a."ip_address" IS NOT NULL
  ) x
  WHERE NOT EXISTS (SELECT 1 FROM "Session" s2 WHERE s2."user_id" <> v_uid AND host(s2."ip_address") = x.ip)
    AND NOT EXISTS (SELECT 1 FROM "AuditLog" a2 WHERE a2."user_id" <> v_uid AND host(a2."ip_address") = x.ip);

  -- Explicit rules (same order and conditions as crates/gdpr/src/erase.rs).
  DELETE FROM "LoginAttempt" WHERE "user_id" = v_uid OR lower("email") = v_email;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'LoginAttempt', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "Session" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Session', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "ApiKey" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'ApiKey', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "OrganizationMember" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'OrganizationMember', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "TeamMember" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'TeamMember', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "UserRoleMap" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'UserRoleMap', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "Settings" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Settings', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "UserPreferences" WHERE "user_id" = v_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'UserPreferences', 'column', '*', 'rule', 'deleted', 'rows', n);
  UPDATE "AuditLog" SET "ip_address" = NULL, "user_agent" = NULL
   WHERE ("user_id" = v_uid OR ("target_table" = 'User' AND "target_id" = v_uid))
     AND ("ip_address" IS NOT NULL OR "user_agent" IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'AuditLog', 'column', 'ip_address,user_agent', 'rule', 'nulled', 'rows', n);
  UPDATE "Message" SET "subject" = NULL, "body" = '[erased]'
   WHERE "sender_id" = v_uid AND ("body" <> '[erased]' OR "subject" IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Message', 'column', 'subject,body', 'rule', 'rewritten', 'rows', n);
  UPDATE "Notification" SET "title" = '[erased]', "body" = NULL, "data" = '{}'
   WHERE "user_id" = v_uid AND ("title" <> '[erased]' OR "body" IS NOT NULL OR coalesce("data"::text, '') <> '{}');
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Notification', 'column', 'title,body,data', 'rule', 'rewritten', 'rows', n);
  UPDATE "File" SET "name" = '[erased]', "metadata" = '{}', "deleted_at" = coalesce("deleted_at", v_now)
   WHERE "user_id" = v_uid AND ("name" <> '[erased]' OR coalesce("metadata"::text, '') <> '{}' OR "deleted_at" IS NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'File', 'column', 'name,metadata,deleted_at', 'rule', 'rewritten', 'rows', n);
  UPDATE "User" SET "email" = 'anonymized_' || v_uid::text || '@deleted.invalid', "password_hash" = '!erased',
         "status" = 'INACTIVE', "deleted_at" = coalesce("deleted_at", v_now), "updated_at" = v_now
   WHERE "id" = v_uid AND ("email" <> 'anonymized_' || v_uid::text || '@deleted.invalid'
         OR "password_hash" <> '!erased' OR "status" <> 'INACTIVE' OR "deleted_at" IS NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'User', 'column', 'email,password_hash,status,deleted_at', 'rule', 'rewritten', 'rows', n);

  -- Generic pass: every text, JSON and address column of every table.
  IF cardinality(v_terms) > 0 OR cardinality(v_ips) > 0 THEN
    -- Email: not glued to address characters; local part: not next to '@' either (that is
    -- another address); IPs: not glued to address digits.
    v_alt := NULL;
    IF cardinality(v_terms) > 0 THEN
      v_alt := '(?<![a-z0-9._%+-])' || regexp_replace(v_terms[1], '([^a-z0-9@_%-])', '\\\1', 'g') || '(?![a-z0-9._%+-])';
    END IF;
    IF cardinality(v_terms) > 1 THEN
      v_alt := v_alt || '|(?<![a-z0-9._%+@-])' || regexp_replace(v_terms[2], '([^a-z0-9@_%-])', '\\\1', 'g') || '(?![a-z0-9._%+@-])';
    END IF;
    IF cardinality(v_ips) > 0 THEN
      SELECT coalesce(v_alt || '|', '') || '(?<![0-9a-f.:])(?:' || string_agg(regexp_replace(lower(t), '([^a-z0-9])', '\\\1', 'g'), '|') || ')(?![0-9a-f.:])'
        INTO v_alt FROM unnest(v_ips) t;
    END IF;
    v_pat := v_alt;
    FOR r IN
      SELECT c."table_name" AS tbl, c."column_name" AS col, c."data_type" AS dt, c."udt_name" AS udt
        FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
         AND c.table_name <> '_ncy_migrations'
         AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'cidr')
              OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
       ORDER BY c.table_name, c.ordinal_position
    LOOP
      IF r.dt IN ('inet', 'cidr') THEN
        EXECUTE format('UPDATE %I SET %I = NULL WHERE %I::text ~* $1', r.tbl, r.col, r.col) USING v_pat;
      ELSE
        v_cast := CASE r.dt WHEN 'jsonb' THEN 'jsonb' WHEN 'json' THEN 'json' WHEN 'ARRAY' THEN 'text[]' ELSE 'text' END;
        EXECUTE format('UPDATE %I SET %I = regexp_replace(%I::text, $1, %L, %L)::%s WHERE %I::text ~* $1',
                       r.tbl, r.col, r.col, '[redacted]', 'gi', v_cast, r.col) USING v_pat;
      END IF;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n > 0 THEN
        v_rules := v_rules || jsonb_build_object('table', r.tbl, 'column', r.col,
                     'rule', CASE WHEN r.dt IN ('inet', 'cidr') THEN 'nulled' ELSE 'redacted' END, 'rows', n);
      END IF;
    END LOOP;
  END IF;

  -- The platform's own log line, kept without personal data.
  INSERT INTO "AuditLog" ("user_id", "action", "target_table", "target_id", "new_value", "created_at")
  VALUES (v_uid, 'ANONYMIZE', 'User', v_uid, jsonb_build_object('anonymized', true, 'rules', jsonb_array_length(v_rules)), v_now);
  RETURN v_rules;
END;
$$ LANGUAGE plpgsql;

DROP FUNCTION ncy_gdpr_sweep(text);
DROP FUNCTION ncy_gdpr_apply_rules(uuid, text, text, timestamp);
DROP FUNCTION ncy_gdpr_terms(uuid, text);

CREATE OR REPLACE FUNCTION ncy_audit_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  o jsonb := CASE WHEN TG_OP = 'INSERT' THEN '{}'::jsonb ELSE to_jsonb(OLD) END;
  n jsonb := CASE WHEN TG_OP = 'DELETE' THEN '{}'::jsonb ELSE to_jsonb(NEW) END;
  row_json jsonb := CASE WHEN TG_OP = 'DELETE' THEN o ELSE n END;
  target uuid := coalesce(row_json->>'id', row_json->>'user_id', row_json->>'team_id')::uuid;
  k text;
  od jsonb := '{}';
  nd jsonb := '{}';
BEGIN
  IF EXISTS (SELECT 1 FROM "AuditLog" WHERE "txid" = txid_current() AND "target_table" = TG_TABLE_NAME
             AND "target_id" IS NOT DISTINCT FROM target AND "action" NOT LIKE 'SQL\_%') THEN
    RETURN NULL;
  END IF;
  FOR k IN SELECT jsonb_object_keys(o || n) LOOP
    IF (o->k) IS DISTINCT FROM (n->k) THEN
      IF k IN ('password_hash', 'key_hash', 'refresh_token') THEN
        od := od || jsonb_build_object(k, CASE WHEN o ? k THEN to_jsonb('[redacted]'::text) ELSE 'null'::jsonb END);
        nd := nd || jsonb_build_object(k, CASE WHEN n ? k THEN to_jsonb('[redacted]'::text) ELSE 'null'::jsonb END);
      ELSE
        IF TG_OP <> 'INSERT' THEN od := od || jsonb_build_object(k, o->k); END IF;
        IF TG_OP <> 'DELETE' THEN nd := nd || jsonb_build_object(k, n->k); END IF;
      END IF;
    END IF;
  END LOOP;
  IF TG_OP = 'UPDATE' AND nd = '{}'::jsonb THEN
    RETURN NULL;
  END IF;
  INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "old_value", "new_value", "user_agent", "created_at")
  VALUES (gen_random_uuid(), ncy_session_user_id(), 'SQL_' || TG_OP, TG_TABLE_NAME, target,
          CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE od END, CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE nd END,
          left(coalesce(nullif(current_setting('application_name', true), ''), 'sql') || ' as ' || session_user::text, 500),
          (clock_timestamp() AT TIME ZONE 'UTC'));
  RETURN NULL;
END $$;

DROP TABLE "GdprErasing";
