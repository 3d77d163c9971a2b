-- Back to migration 0022: no export, history or sweep entry points for operator roles, and
-- SUPPORT reads legal holds only.
REVOKE INSERT ("id", "user_id", "reason", "placed_by", "placed_at"),
       UPDATE ("released_by", "released_at", "release_reason") ON "LegalHold" FROM ncy_support;
DROP FUNCTION ncy_gdpr_sweep_for(text, text[]);
-- ncy_gdpr_terms() as migration 0018 wrote it, with its pattern built inline.
CREATE OR REPLACE FUNCTION ncy_gdpr_terms(p_uid uuid, p_term_email text, OUT pattern text, OUT summary jsonb)
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
DROP FUNCTION ncy_gdpr_pattern(text, text[]);
DROP FUNCTION ncy_gdpr_request_history(uuid);
DROP FUNCTION ncy_gdpr_export_rows(uuid, text);
DROP FUNCTION ncy_gdpr_export_counts(uuid);
DROP FUNCTION ncy_gdpr_export_subject(uuid);
DROP FUNCTION ncy_gdpr_export_source(text);
DROP FUNCTION ncy_gdpr_export_parts();
