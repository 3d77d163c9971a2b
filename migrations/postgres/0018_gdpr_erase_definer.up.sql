-- GDPR erasure through an operator's own login (issue 13). An operator role may not rewrite
-- the tables an erasure touches (and must not: User, Session, AuditLog, ... are the schema
-- owner's), so the erasure is one checked entry point, ncy_gdpr_erase(), owned by the schema
-- owner and executable by the group roles whose RBAC role holds gdpr.handle (ADMIN, SYSTEM,
-- SUPPORT). It does what crates/gdpr/src/erase.rs does for the owner and the local workspace,
-- in the caller's transaction: checks the caller and the request, the confirmation and the
-- blockers, applies the policy's rules (crates/gdpr/ERASURE-POLICY.md), proves the sweep clean
-- (else raises: nothing changes), stores the receipt on the request and writes the two
-- GDPR_ERASE audit entries, sealed with the operator as their actor.
--
-- The rules, the terms and the sweep are the pieces below, shared with the platform's
-- anonymize_user_data() (migration 0008, rewritten here on top of them: same result), so there
-- is one SQL copy of the policy.
--
-- Custom SQLSTATEs, mapped by crates/gdpr/src/erase.rs: NCE01 not found, NCE02 refused
-- (conflict), NCE03 the confirmation does not match.

-- While ncy_gdpr_erase rewrites rows, the audit write trigger must not copy them into the audit
-- log (a SQL_UPDATE entry of the User row, a Message or a File would keep the erased values in
-- its old_value): the function marks its transaction here, makes the audit trigger fire at once
-- (SET CONSTRAINTS ... IMMEDIATE, which first writes what the caller's earlier statements owe),
-- and removes the mark before it returns, so no later write of the transaction goes unaudited.
-- No operator holds any privilege on this table: the mark cannot be forged.
CREATE TABLE "GdprErasing" (
  "txid" BIGINT PRIMARY KEY
);

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
  -- Inside ncy_gdpr_erase: its GDPR_ERASE entries record the erasure, without the erased values.
  IF EXISTS (SELECT 1 FROM "GdprErasing" WHERE "txid" = txid_current()) THEN
    RETURN NULL;
  END IF;
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

-- ---------------------------------------------------------------------------------------------
-- The pieces. Invoker's rights (an operator calling one directly has only their own privileges,
-- which do not reach these tables), search_path pinned.
-- ---------------------------------------------------------------------------------------------

-- The subject's terms as one case-insensitive regular expression, NULL when there is none: the
-- email (`term_email`, lower case, NULL for none), its local part when specific enough (5+
-- characters with a non-letter), and the subject's own IP addresses (Session, AuditLog) that no
-- other user's rows carry. An occurrence counts only when not glued to further address
-- characters (crates/gdpr/src/terms.rs is the same rule). `summary` counts the terms by kind,
-- as the receipt shows them (TermSummary). The pattern holds personal data: never store it.
CREATE FUNCTION ncy_gdpr_terms(p_uid uuid, p_term_email text, OUT pattern text, OUT summary jsonb)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_terms text[] := '{}';
  v_local text;
  v_ips text[];
  v_shared bigint;
  v_alt text := NULL;
BEGIN
  IF nullif(p_term_email, '') IS NOT NULL THEN
    v_terms := ARRAY[p_term_email];
    v_local := split_part(p_term_email, '@', 1);
    IF length(v_local) >= 5 AND v_local ~ '[^a-z]' THEN
      v_terms := v_terms || v_local;
    END IF;
  END IF;
  WITH own AS (
    SELECT host(s."ip_address") AS ip FROM "Session" s WHERE s."user_id" = p_uid AND s."ip_address" IS NOT NULL
    UNION SELECT host(a."ip_address") FROM "AuditLog" a WHERE a."user_id" = p_uid AND a."ip_address" IS NOT NULL
  ), marked AS (
    SELECT own.ip,
           EXISTS (SELECT 1 FROM "Session" s2 WHERE s2."user_id" <> p_uid AND host(s2."ip_address") = own.ip)
        OR EXISTS (SELECT 1 FROM "AuditLog" a2 WHERE a2."user_id" <> p_uid AND host(a2."ip_address") = own.ip) AS shared
      FROM own
  )
  SELECT coalesce(array_agg(m.ip ORDER BY m.ip) FILTER (WHERE NOT m.shared), '{}'), count(*) FILTER (WHERE m.shared)
    INTO v_ips, v_shared FROM marked m;

  -- Email: not glued to address characters; local part: not next to '@' either (that is
  -- another address); IPs: not glued to address digits.
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
  pattern := v_alt;
  summary := jsonb_build_object('email', least(cardinality(v_terms), 1), 'local_part', greatest(cardinality(v_terms) - 1, 0),
                                'ip_addresses', cardinality(v_ips), 'shared_ip_addresses_skipped', v_shared);
END $$;

-- The policy's rules for one user, in the client's order and with its conditions
-- (crates/gdpr/src/erase.rs): `login_email` (lower case) names the LoginAttempt rows besides the
-- user's own, `pattern` (ncy_gdpr_terms) drives the generic pass over every text, JSON and
-- address column of every table. Returns [{table, column, rule, rows}] (no personal data).
CREATE FUNCTION ncy_gdpr_apply_rules(p_uid uuid, p_login_email text, p_pattern text, p_at timestamp)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_rules jsonb := '[]';
  v_cast text;
  n bigint;
  r record;
BEGIN
  DELETE FROM "LoginAttempt" WHERE "user_id" = p_uid OR lower("email") = p_login_email;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'LoginAttempt', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "Session" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Session', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "ApiKey" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'ApiKey', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "OrganizationMember" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'OrganizationMember', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "TeamMember" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'TeamMember', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "UserRoleMap" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'UserRoleMap', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "Settings" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Settings', 'column', '*', 'rule', 'deleted', 'rows', n);
  DELETE FROM "UserPreferences" WHERE "user_id" = p_uid;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'UserPreferences', 'column', '*', 'rule', 'deleted', 'rows', n);
  UPDATE "AuditLog" SET "ip_address" = NULL, "user_agent" = NULL
   WHERE ("user_id" = p_uid OR ("target_table" = 'User' AND "target_id" = p_uid))
     AND ("ip_address" IS NOT NULL OR "user_agent" IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'AuditLog', 'column', 'ip_address,user_agent', 'rule', 'nulled', 'rows', n);
  UPDATE "Message" SET "subject" = NULL, "body" = '[erased]'
   WHERE "sender_id" = p_uid AND ("body" <> '[erased]' OR "subject" IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Message', 'column', 'subject,body', 'rule', 'rewritten', 'rows', n);
  UPDATE "Notification" SET "title" = '[erased]', "body" = NULL, "data" = '{}'
   WHERE "user_id" = p_uid AND ("title" <> '[erased]' OR "body" IS NOT NULL OR coalesce("data"::text, '') <> '{}');
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'Notification', 'column', 'title,body,data', 'rule', 'rewritten', 'rows', n);
  UPDATE "File" SET "name" = '[erased]', "metadata" = '{}', "deleted_at" = coalesce("deleted_at", p_at)
   WHERE "user_id" = p_uid AND ("name" <> '[erased]' OR coalesce("metadata"::text, '') <> '{}' OR "deleted_at" IS NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'File', 'column', 'name,metadata,deleted_at', 'rule', 'rewritten', 'rows', n);
  UPDATE "User" SET "email" = 'anonymized_' || p_uid::text || '@deleted.invalid', "password_hash" = '!erased',
         "status" = 'INACTIVE', "deleted_at" = coalesce("deleted_at", p_at), "updated_at" = p_at
   WHERE "id" = p_uid AND ("email" <> 'anonymized_' || p_uid::text || '@deleted.invalid'
         OR "password_hash" <> '!erased' OR "status" <> 'INACTIVE' OR "deleted_at" IS NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  v_rules := v_rules || jsonb_build_object('table', 'User', 'column', 'email,password_hash,status,deleted_at', 'rule', 'rewritten', 'rows', n);

  -- Generic pass: every text, JSON and address column of every table.
  IF p_pattern IS NOT NULL THEN
    FOR r IN
      SELECT c."table_name" AS tbl, c."column_name" AS col, c."data_type" AS dt
        FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
         AND c.table_name <> '_ncy_migrations'
         AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'cidr')
              OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
       ORDER BY c.table_name, c.ordinal_position
    LOOP
      IF r.dt IN ('inet', 'cidr') THEN
        EXECUTE format('UPDATE %I SET %I = NULL WHERE %I::text ~* $1', r.tbl, r.col, r.col) USING p_pattern;
      ELSE
        v_cast := CASE r.dt WHEN 'jsonb' THEN 'jsonb' WHEN 'json' THEN 'json' WHEN 'ARRAY' THEN 'text[]' ELSE 'text' END;
        EXECUTE format('UPDATE %I SET %I = regexp_replace(%I::text, $1, %L, %L)::%s WHERE %I::text ~* $1',
                       r.tbl, r.col, r.col, '[redacted]', 'gi', v_cast, r.col) USING p_pattern;
      END IF;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n > 0 THEN
        v_rules := v_rules || jsonb_build_object('table', r.tbl, 'column', r.col,
                     'rule', CASE WHEN r.dt IN ('inet', 'cidr') THEN 'nulled' ELSE 'redacted' END, 'rows', n);
      END IF;
    END LOOP;
  END IF;
  RETURN v_rules;
END $$;

-- The proof: the rows of every column of every table with text, JSON or address columns (the
-- discovery of crates/gdpr/src/schema.rs) still matching `pattern`. Returns {clean,
-- tables_scanned, columns_scanned, hits: [{table, column, rows}], duration_ms}: the SweepResult
-- of the receipt without its term counts. Names tables and columns, never the terms.
CREATE FUNCTION ncy_gdpr_sweep(p_pattern text) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_tables bigint := 0;
  v_columns bigint := 0;
  v_hits jsonb := '[]';
  v_counts bigint[];
  t record;
  i integer;
BEGIN
  FOR t IN
    SELECT c."table_name"::text AS tbl, array_agg(c."column_name"::text ORDER BY c.ordinal_position) AS cols
      FROM information_schema.columns c
      JOIN information_schema.tables it ON it.table_schema = c.table_schema AND it.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND it.table_type = 'BASE TABLE'
       AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'cidr')
            OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
     GROUP BY c.table_name
     ORDER BY c.table_name
  LOOP
    v_tables := v_tables + 1;
    v_columns := v_columns + cardinality(t.cols);
    CONTINUE WHEN p_pattern IS NULL;
    EXECUTE format('SELECT ARRAY[%s]::bigint[] FROM %I',
                   (SELECT string_agg(format('count(*) FILTER (WHERE %I::text ~* $1)', u.col), ', ' ORDER BY u.ord)
                      FROM unnest(t.cols) WITH ORDINALITY u(col, ord)),
                   t.tbl)
      INTO v_counts USING p_pattern;
    FOR i IN 1 .. cardinality(t.cols) LOOP
      IF v_counts[i] > 0 THEN
        v_hits := v_hits || jsonb_build_object('table', t.tbl, 'column', t.cols[i], 'rows', v_counts[i]);
      END IF;
    END LOOP;
  END LOOP;
  RETURN jsonb_build_object('clean', jsonb_array_length(v_hits) = 0, 'tables_scanned', v_tables,
    'columns_scanned', v_columns, 'hits', v_hits,
    'duration_ms', floor(extract(epoch FROM clock_timestamp() - v_started) * 1000)::bigint);
END $$;

-- ---------------------------------------------------------------------------------------------
-- The entry point.
-- ---------------------------------------------------------------------------------------------

-- Erases the subject of an ERASURE (or platform DELETE) request whose identity was verified.
-- `p_confirm` repeats the subject's email (any case); for a subject already anonymized it may
-- be the former email, swept for again. Refused while the subject is under a legal hold or owns
-- a live organization. Commits nothing unless the sweep is clean. Returns the receipt (the
-- `Receipt` of crates/gdpr/src/erase.rs), also stored in "GdprRequest"."receipt"; the request
-- moves to IN_PROGRESS (a COMPLETED one stays so). Writes GDPR_ERASE on the User (no agent, no
-- address: it is about the subject) and on the GdprRequest (agent `p_user_agent`, by default
-- the connection's application name and login). Needs gdpr.handle; an operator is the handler.
CREATE FUNCTION ncy_gdpr_erase(p_request uuid, p_confirm text, p_backup_retention_days integer DEFAULT 30,
                               p_user_agent text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_handler uuid;
  v_now timestamp(3) := (now() AT TIME ZONE 'UTC');
  v_req "GdprRequest";
  v_uid uuid;
  v_email text;
  v_anonymized boolean;
  v_confirm text := lower(btrim(coalesce(p_confirm, ''), E' \t\r\n'));
  v_former text;
  v_holds bigint;
  v_orgs text;
  v_terms record;
  v_rules jsonb;
  v_sweep jsonb;
  v_at text;
  v_rows bigint;
  v_files bigint;
  v_notes jsonb;
  v_backups jsonb;
  v_receipt jsonb;
  v_summary jsonb;
BEGIN
  PERFORM ncy_require('gdpr.handle');
  v_handler := ncy_active_user_id();
  IF p_backup_retention_days IS NULL OR p_backup_retention_days < 0 THEN
    RAISE EXCEPTION 'backup retention days must be 0 or more' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  SELECT * INTO v_req FROM "GdprRequest" g WHERE g."id" = p_request FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'GDPR request not found: %', p_request USING ERRCODE = 'NCE01';
  END IF;
  IF v_req."type"::text NOT IN ('ERASURE', 'DELETE') THEN
    RAISE EXCEPTION 'request % is a % request; erase works on ERASURE requests', p_request, v_req."type"
      USING ERRCODE = 'NCE02';
  END IF;
  IF v_req."status"::text = 'REJECTED' THEN
    RAISE EXCEPTION 'request % was rejected; nothing is erased', p_request USING ERRCODE = 'NCE02';
  END IF;
  IF v_req."identity_verified_at" IS NULL THEN
    RAISE EXCEPTION 'the subject''s identity is not verified for request %; record it first: ncy-admin gdpr verify-identity % --method TEXT',
      p_request, p_request USING ERRCODE = 'NCE02';
  END IF;
  v_uid := v_req."user_id";
  IF v_uid IS NULL THEN
    RAISE EXCEPTION 'request % has no subject any more', p_request USING ERRCODE = 'NCE02';
  END IF;
  SELECT u."email" INTO v_email FROM "User" u WHERE u."id" = v_uid FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found: %', v_uid USING ERRCODE = 'NCE01';
  END IF;

  -- The confirmation: the subject's email; for an anonymized subject, optionally the former one.
  v_anonymized := v_email = 'anonymized_' || v_uid::text || '@deleted.invalid';
  IF v_confirm = lower(v_email) THEN
    v_former := CASE WHEN v_anonymized THEN NULL ELSE lower(v_email) END;
  ELSIF v_anonymized AND position('@' IN v_confirm) > 0 THEN
    v_former := v_confirm;
  ELSIF v_anonymized THEN
    RAISE EXCEPTION 'type the subject''s email (or its former email) to confirm' USING ERRCODE = 'NCE03';
  ELSE
    RAISE EXCEPTION 'does not match the subject''s email; type the subject''s email exactly to confirm the erasure'
      USING ERRCODE = 'NCE03';
  END IF;

  -- Blockers, whatever the caller can see of them (Row-Level Security does not apply here).
  SELECT count(*) INTO v_holds FROM "LegalHold" h WHERE h."user_id" = v_uid AND h."released_at" IS NULL;
  IF v_holds > 0 THEN
    RAISE EXCEPTION 'erasure refused: user % is under % active legal hold(s); erasure is refused until released (ncy-admin gdpr hold release)',
      v_uid, v_holds USING ERRCODE = 'NCE02';
  END IF;
  SELECT string_agg(o."slug", ', ' ORDER BY o."slug") INTO v_orgs
    FROM "Organization" o WHERE o."owner_id" = v_uid AND o."deleted_at" IS NULL;
  IF v_orgs IS NOT NULL THEN
    RAISE EXCEPTION 'erasure refused: user % still owns organization(s) %; transfer ownership first, then erase',
      v_uid, v_orgs USING ERRCODE = 'NCE02';
  END IF;

  -- From here on the audit trigger stays quiet (see "GdprErasing" above).
  SET CONSTRAINTS ncy_audit_write IMMEDIATE;
  INSERT INTO "GdprErasing" ("txid") VALUES (txid_current()) ON CONFLICT DO NOTHING;

  SELECT * INTO v_terms FROM ncy_gdpr_terms(v_uid, v_former);
  v_rules := ncy_gdpr_apply_rules(v_uid, v_former, v_terms.pattern, v_now);
  v_sweep := ncy_gdpr_sweep(v_terms.pattern) || jsonb_build_object('terms', v_terms.summary);
  IF NOT (v_sweep->>'clean')::boolean THEN
    SELECT string_agg(format('%s.%s (%s rows)', h.v->>'table', h.v->>'column', h.v->>'rows'), ', ' ORDER BY h.i)
      INTO v_at FROM jsonb_array_elements(v_sweep->'hits') WITH ORDINALITY h(v, i);
    RAISE EXCEPTION 'erasure not committed: the sweep still finds the subject in %; nothing was changed. Add a rule for these columns, then retry',
      v_at USING ERRCODE = 'NCE02';
  END IF;

  SELECT coalesce(sum((x->>'rows')::bigint), 0), coalesce(sum((x->>'rows')::bigint) FILTER (WHERE x->>'table' = 'File'), 0)
    INTO v_rows, v_files FROM jsonb_array_elements(v_rules) x;
  v_notes := jsonb_build_array('Offline caches drop the subject''s data at their next pull.');
  IF v_files > 0 THEN
    v_notes := v_notes || to_jsonb(v_files || ' stored file object(s) referenced by File.storage_path must be removed from file storage.');
  END IF;
  -- Backups taken before now that still hold the subject: younger than the retention period,
  -- or the newest verified one (pruning keeps it whatever its age).
  WITH b AS (
    SELECT s."id", s."created_at", s."path", s."verified",
           s."created_at" + make_interval(days => p_backup_retention_days) AS expires_at
      FROM "BackupSnapshot" s WHERE s."created_at" <= v_now
  ), nv AS (
    SELECT b."id" FROM b WHERE b."verified" ORDER BY b."created_at" DESC, b."id" DESC LIMIT 1
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', b."id", 'created_at', b."created_at", 'expires_at', b.expires_at,
                                               'path', b."path", 'verified', b."verified",
                                               'kept_as_newest_verified', b."id" IN (SELECT nv."id" FROM nv))
                            ORDER BY b."created_at", b."id"), '[]')
    INTO v_backups
    FROM b WHERE b.expires_at > v_now OR b."id" IN (SELECT nv."id" FROM nv);

  v_receipt := jsonb_build_object(
    'request_id', p_request, 'subject_id', v_uid, 'erased_at', v_now, 'handler_id', v_handler,
    'already_anonymized', v_anonymized, 'rules', v_rules, 'rows_changed', v_rows, 'sweep', v_sweep,
    'backups_holding_data', v_backups, 'backup_retention_days', p_backup_retention_days,
    'notes', v_notes, 'previous', v_req."receipt");
  UPDATE "GdprRequest" SET "receipt" = v_receipt, "handler_id" = coalesce(v_handler, "handler_id"),
         "status" = (CASE WHEN v_req."status"::text = 'COMPLETED' THEN 'COMPLETED' ELSE 'IN_PROGRESS' END)::"GdprRequestStatus",
         "updated_at" = v_now
   WHERE "id" = p_request;

  v_summary := jsonb_build_object('request_id', p_request, 'rules', jsonb_array_length(v_rules), 'rows_changed', v_rows,
                                  'sweep_clean', true, 'backups_holding_data', jsonb_array_length(v_backups));
  -- The actor is sealed from the login (ncy_audit_seal); the event about the subject is kept
  -- like every other row about them: no agent, no address.
  INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "new_value", "created_at")
  VALUES (gen_random_uuid(), v_handler, 'GDPR_ERASE', 'User', v_uid, v_summary, v_now);
  INSERT INTO "AuditLog" ("id", "user_id", "action", "target_table", "target_id", "new_value", "user_agent", "created_at")
  VALUES (gen_random_uuid(), v_handler, 'GDPR_ERASE', 'GdprRequest', p_request, v_summary,
          left(coalesce(p_user_agent, coalesce(nullif(current_setting('application_name', true), ''), 'sql') || ' as ' || session_user::text), 500),
          v_now);

  DELETE FROM "GdprErasing" WHERE "txid" = txid_current();
  SET CONSTRAINTS ncy_audit_write DEFERRED;
  RETURN v_receipt;
END $$;

REVOKE ALL ON FUNCTION ncy_gdpr_erase(uuid, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_gdpr_erase(uuid, text, integer, text) TO ncy_admin, ncy_system, ncy_support;

-- The platform's function, now on the same pieces (same checks, rules, result and log line).
CREATE OR REPLACE FUNCTION anonymize_user_data(user_id UUID)
RETURNS JSONB AS $$
#variable_conflict use_column
DECLARE
  v_uid UUID := $1;
  v_now TIMESTAMP(3) := (now() AT TIME ZONE 'UTC');
  v_email TEXT;
  v_terms RECORD;
  v_rules JSONB;
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
  SELECT * INTO v_terms FROM ncy_gdpr_terms(v_uid,
    CASE WHEN v_email NOT LIKE 'anonymized\_%@deleted.invalid' THEN v_email END);
  v_rules := ncy_gdpr_apply_rules(v_uid, v_email, v_terms.pattern, v_now);
  -- The platform's own log line, kept without personal data.
  INSERT INTO "AuditLog" ("user_id", "action", "target_table", "target_id", "new_value", "created_at")
  VALUES (v_uid, 'ANONYMIZE', 'User', v_uid, jsonb_build_object('anonymized', true, 'rules', jsonb_array_length(v_rules)), v_now);
  RETURN v_rules;
END;
$$ LANGUAGE plpgsql;
