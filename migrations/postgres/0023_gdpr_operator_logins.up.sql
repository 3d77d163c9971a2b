-- GDPR work through an operator's own login. SUPPORT staff work the GDPR queue, ADMIN does
-- everything; neither role may read every table a GDPR step draws on (Session and ApiKey are
-- granted by column without their secrets, SUPPORT reads no message, log or audit row), so each
-- such step is a checked entry point owned by the schema owner, as the erasure is (0018):
--
-- - the export (Art. 15 / 20): ncy_gdpr_export_counts() and ncy_gdpr_export_rows(), gdpr.handle,
--   only for a verified, open ACCESS or EXPORT request, and only its subject's rows: what an
--   operator can read this way is what the export hands them;
-- - a request's history (its audit entries): ncy_gdpr_request_history(), gdpr.read;
-- - a sweep that re-proves an erasure: ncy_gdpr_sweep_for(), gdpr.read; it names tables and
--   columns with row counts, never a value.
--
-- They only read, so they also run on a hot standby. And SUPPORT may place and release legal
-- holds, which the app has always allowed gdpr.handle to do (the grant was missing).
--
-- What each table contributes to an export is crates/gdpr/src/export/specs.rs, which the schema
-- owner and the local workspace use; the list below is the same (a test compares them, and the
-- operator tests compare the bundles byte for byte). Custom SQLSTATEs, as for ncy_gdpr_erase():
-- NCE01 not found, NCE02 refused.

-- The parts of every table's selection, in bundle order: `filter` names $1 (the subject's id)
-- and $2 (their email, lower case); rows come ordered by (`ts`, `tb`); `omit` are the secret
-- columns never exported. Not executable by operators.
CREATE FUNCTION ncy_gdpr_export_parts()
RETURNS TABLE ("tbl" text, "part" int, "filter" text, "ts" text, "tb" text, "omit" text[])
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
  VALUES
    ('User', 1, '"id" = $1', 'created_at', 'id', ARRAY['password_hash']),
    ('Session', 1, '"user_id" = $1', 'created_at', 'id', ARRAY['refresh_token']),
    ('ApiKey', 1, '"user_id" = $1', 'created_at', 'id', ARRAY['key_hash']),
    ('UserRoleMap', 1, '"user_id" = $1', 'granted_at', 'role_id', '{}'),
    ('OrganizationMember', 1, '"user_id" = $1', 'joined_at', 'id', '{}'),
    ('TeamMember', 1, '"user_id" = $1', 'joined_at', 'team_id', '{}'),
    ('Organization', 1, '"owner_id" = $1', 'created_at', 'id', '{}'),
    ('Task', 1, '"assignee_id" = $1', 'created_at', 'id', '{}'),
    ('AuditLog', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('AuditLog', 2, '"target_table" = ''User'' AND "target_id" = $1 AND ("user_id" IS NULL OR "user_id" <> $1)', 'created_at', 'id', '{}'),
    ('AccessLog', 1, '"user_id" = $1', 'timestamp', 'id', '{}'),
    ('LoginAttempt', 1, '"user_id" = $1 OR lower("email") = $2', 'created_at', 'id', '{}'),
    ('Notification', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('File', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('Message', 1, '"sender_id" = $1', 'created_at', 'id', '{}'),
    ('Message', 2, '"receiver_id" = $1 AND ("sender_id" IS NULL OR "sender_id" <> $1)', 'created_at', 'id', '{}'),
    ('Settings', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('UserPreferences', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('Consent', 1, '"user_id" = $1', 'created_at', 'id', '{}'),
    ('GdprRequest', 1, '"user_id" = $1', 'created_at', 'id', '{}')
$$;

-- What to read `tbl` from: the table, or while a log table's move into partitions is under way
-- (`ncy-admin migrate partition-logs`), it and the rows not moved yet.
CREATE FUNCTION ncy_gdpr_export_source(p_table text) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT CASE
    WHEN (SELECT c."relkind" FROM pg_class c WHERE c."oid" = to_regclass(format('%I', p_table))) = 'p'
     AND to_regclass(format('%I', p_table || '_unpartitioned')) IS NOT NULL
    THEN format('(SELECT * FROM %I UNION ALL SELECT * FROM %I)', p_table, p_table || '_unpartitioned')
    ELSE format('%I', p_table)
  END
$$;

-- Checks the caller and the request; returns the subject's id and email (lower case).
CREATE FUNCTION ncy_gdpr_export_subject(p_request uuid, OUT "user_id" uuid, OUT "email" text)
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
  v_req "GdprRequest";
BEGIN
  PERFORM ncy_require('gdpr.handle');
  SELECT * INTO v_req FROM "GdprRequest" g WHERE g."id" = p_request;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'GDPR request not found: %', p_request USING ERRCODE = 'NCE01';
  END IF;
  IF v_req."type"::text NOT IN ('ACCESS', 'EXPORT') THEN
    RAISE EXCEPTION 'request % is a % request; export answers ACCESS and EXPORT requests', p_request, v_req."type"
      USING ERRCODE = 'NCE02';
  END IF;
  IF v_req."status"::text IN ('COMPLETED', 'REJECTED') THEN
    RAISE EXCEPTION 'request % is already %', p_request, v_req."status" USING ERRCODE = 'NCE02';
  END IF;
  IF v_req."identity_verified_at" IS NULL THEN
    RAISE EXCEPTION 'the subject''s identity is not verified for request %; record how it was checked first', p_request
      USING ERRCODE = 'NCE02';
  END IF;
  IF v_req."user_id" IS NULL THEN
    RAISE EXCEPTION 'request % has no subject any more', p_request USING ERRCODE = 'NCE02';
  END IF;
  SELECT u."id", lower(u."email") INTO "user_id", "email" FROM "User" u WHERE u."id" = v_req."user_id";
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found: %', v_req."user_id" USING ERRCODE = 'NCE01';
  END IF;
END $$;

-- How many rows each table contributes to the export of request `p_request`, in bundle order.
CREATE FUNCTION ncy_gdpr_export_counts(p_request uuid) RETURNS TABLE ("tbl" text, "n" bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s record;
  p record;
  v_n bigint;
BEGIN
  SELECT * INTO s FROM ncy_gdpr_export_subject(p_request);
  FOR p IN SELECT x."tbl", x."filter", min(x."part") OVER (PARTITION BY x."tbl") AS "first",
                  max(x."part") OVER (PARTITION BY x."tbl") AS "last", x."part"
             FROM ncy_gdpr_export_parts() WITH ORDINALITY AS x("tbl", "part", "filter", "ts", "tb", "omit", "o")
            ORDER BY x."o" LOOP
    IF p."part" = p."first" THEN
      "n" := 0;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s t WHERE (%s)', ncy_gdpr_export_source(p."tbl"), p."filter")
      INTO v_n USING s."user_id", s."email";
    "n" := "n" + v_n;
    IF p."part" = p."last" THEN
      "tbl" := p."tbl";
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;

-- The rows table `p_table` contributes to the export of request `p_request`, each as its JSON
-- text without the secret columns, part after part, each part in (`ts`, `tb`) order: what the
-- bundle's `<p_table>.json` holds.
CREATE FUNCTION ncy_gdpr_export_rows(p_request uuid, p_table text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s record;
  p record;
  v_found boolean := false;
BEGIN
  SELECT * INTO s FROM ncy_gdpr_export_subject(p_request);
  FOR p IN SELECT * FROM ncy_gdpr_export_parts() x WHERE x."tbl" = p_table ORDER BY x."part" LOOP
    v_found := true;
    RETURN QUERY EXECUTE format('SELECT (to_jsonb(t) - %L::text[])::text FROM %s t WHERE (%s) ORDER BY %I, %I',
                                p."omit", ncy_gdpr_export_source(p."tbl"), p."filter", p."ts", p."tb")
      USING s."user_id", s."email";
  END LOOP;
  IF NOT v_found THEN
    RAISE EXCEPTION 'an export does not cover table %', p_table USING ERRCODE = 'NCE01';
  END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- A request's history, and a sweep.
-- ---------------------------------------------------------------------------------------------

-- The audit entries about request `p_request`, oldest first, with their actors' emails.
CREATE FUNCTION ncy_gdpr_request_history(p_request uuid)
RETURNS TABLE ("at" timestamp(3), "action" text, "actor_id" uuid, "actor_email" text, "new" jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM ncy_require('gdpr.read');
  RETURN QUERY
    SELECT a."created_at", a."action"::text, a."user_id", u."email"::text, a."new_value"
      FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
     WHERE a."target_table" = 'GdprRequest' AND a."target_id" = p_request
     ORDER BY a."created_at", a."id";
END $$;

-- The regular expression finding `p_email` (and its local part when specific: 5+ characters
-- with a non-letter) and the addresses `p_ips`, each not glued to further address characters:
-- the rule of ncy_gdpr_terms() (0018) and crates/gdpr/src/terms.rs, for terms given directly.
-- NULL when there is nothing to look for.
CREATE FUNCTION ncy_gdpr_pattern(p_email text, p_ips text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
  v_email text := nullif(lower(btrim(coalesce(p_email, ''))), '');
  v_local text;
  v_ips text[];
  v_alt text := NULL;
BEGIN
  IF v_email IS NOT NULL THEN
    v_alt := '(?<![a-z0-9._%+-])' || regexp_replace(v_email, '([^a-z0-9@_%-])', '\\\1', 'g') || '(?![a-z0-9._%+-])';
    v_local := split_part(v_email, '@', 1);
    IF length(v_local) >= 5 AND v_local ~ '[^a-z]' THEN
      v_alt := v_alt || '|(?<![a-z0-9._%+@-])' || regexp_replace(v_local, '([^a-z0-9@_%-])', '\\\1', 'g') || '(?![a-z0-9._%+@-])';
    END IF;
  END IF;
  SELECT array_agg(DISTINCT x) INTO v_ips
    FROM (SELECT nullif(lower(btrim(t)), '') AS x FROM unnest(coalesce(p_ips, '{}')) t) y
   WHERE x IS NOT NULL AND x IS DISTINCT FROM v_email;
  IF cardinality(v_ips) > 0 THEN
    SELECT coalesce(v_alt || '|', '') || '(?<![0-9a-f.:])(?:' || string_agg(regexp_replace(t, '([^a-z0-9])', '\\\1', 'g'), '|') || ')(?![0-9a-f.:])'
      INTO v_alt FROM unnest(v_ips) t;
  END IF;
  RETURN v_alt;
END $$;

-- ncy_gdpr_terms() (0018) builds its pattern with ncy_gdpr_pattern() too, so the erasure's
-- sweep and a later one share one copy of the rule. Same signature and result as before.
CREATE OR REPLACE FUNCTION ncy_gdpr_terms(p_uid uuid, p_term_email text, OUT pattern text, OUT summary jsonb)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  v_terms int := 0;
  v_local text;
  v_ips text[];
  v_shared bigint;
BEGIN
  IF nullif(p_term_email, '') IS NOT NULL THEN
    v_terms := 1;
    v_local := split_part(p_term_email, '@', 1);
    IF length(v_local) >= 5 AND v_local ~ '[^a-z]' THEN
      v_terms := 2;
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
  pattern := ncy_gdpr_pattern(p_term_email, v_ips);
  summary := jsonb_build_object('email', least(v_terms, 1), 'local_part', greatest(v_terms - 1, 0),
                                'ip_addresses', cardinality(v_ips), 'shared_ip_addresses_skipped', v_shared);
END $$;

-- Sweeps every text, JSON and address column of every table for an email and addresses, as
-- ncy_gdpr_sweep() does for an erasure: {clean, tables_scanned, columns_scanned, hits:
-- [{table, column, rows}], duration_ms}, never a value.
CREATE FUNCTION ncy_gdpr_sweep_for(p_email text, p_ips text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM ncy_require('gdpr.read');
  RETURN ncy_gdpr_sweep(ncy_gdpr_pattern(p_email, p_ips));
END $$;

-- SUPPORT places and releases legal holds (gdpr.handle); a hold is never deleted.
GRANT INSERT ("id", "user_id", "reason", "placed_by", "placed_at"),
      UPDATE ("released_by", "released_at", "release_reason") ON "LegalHold" TO ncy_support;

REVOKE ALL ON FUNCTION ncy_gdpr_request_history(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_pattern(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_sweep_for(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_gdpr_request_history(uuid) TO ncy_admin, ncy_system, ncy_support;
GRANT EXECUTE ON FUNCTION ncy_gdpr_sweep_for(text, text[]) TO ncy_admin, ncy_system, ncy_support;
REVOKE ALL ON FUNCTION ncy_gdpr_export_parts() FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_export_source(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_export_subject(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_export_counts(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ncy_gdpr_export_rows(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_gdpr_export_counts(uuid) TO ncy_admin, ncy_system, ncy_support;
GRANT EXECUTE ON FUNCTION ncy_gdpr_export_rows(uuid, text) TO ncy_admin, ncy_system, ncy_support;
