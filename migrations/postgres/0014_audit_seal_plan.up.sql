-- The seal trigger runs once per audit row; the head trigger once per statement. Both read the
-- newest AuditLog row. Their plans are cached per session, so a plan made while the table looked
-- small (fresh database, restore, bulk load before autovacuum's ANALYZE) sorted the whole table
-- for every audit row: measured at 300–680 ms per 300-row INSERT once the table held 60 000 rows,
-- growing with it (`make bench`, sync push). Both functions now always probe the unique "seq"
-- index whatever the statistics say, never JIT-compile (a one-row probe never pays for it), and
-- the seal resolves the operator with its own cached plan instead of a SQL-function call per row.
CREATE OR REPLACE FUNCTION ncy_audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp SET enable_seqscan = off SET enable_sort = off SET jit = off AS $$
DECLARE
  uid uuid;
  s bigint;
  prev bytea;
BEGIN
  SELECT o."user_id" INTO uid FROM "OperatorRole" o WHERE o."db_role" = session_user::text;
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
ALTER FUNCTION ncy_audit_head() SET enable_seqscan = off;
ALTER FUNCTION ncy_audit_head() SET enable_sort = off;
ALTER FUNCTION ncy_audit_head() SET jit = off;
