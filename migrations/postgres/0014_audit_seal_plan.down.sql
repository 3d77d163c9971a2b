ALTER FUNCTION ncy_audit_head() RESET jit;
ALTER FUNCTION ncy_audit_head() RESET enable_sort;
ALTER FUNCTION ncy_audit_head() RESET enable_seqscan;
CREATE OR REPLACE FUNCTION ncy_audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  uid uuid := ncy_session_user_id();
  s bigint;
  prev bytea;
BEGIN
  IF uid IS NOT NULL THEN
    NEW."user_id" := uid;
    NEW."txid" := txid_current();
  END IF;
  NEW."redacted_at" := NULL;
  PERFORM pg_advisory_xact_lock(7317010, 1);
  SELECT a."seq", a."chain_hash" INTO s, prev FROM "AuditLog" a ORDER BY a."seq" DESC LIMIT 1;
  IF s IS NULL THEN
    -- Every row was retained away: the chain goes on from the head.
    SELECT c."seq", c."head" INTO s, prev FROM "AuditChain" c WHERE c."id" = 1;
  END IF;
  NEW."seq" := s + 1;
  NEW."prev_hash" := prev;
  NEW."digest" := ncy_audit_digest(NEW);
  NEW."chain_hash" := sha256(prev || NEW."digest");
  RETURN NEW;
END $$;
