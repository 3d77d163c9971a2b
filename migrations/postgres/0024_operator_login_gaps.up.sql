-- What the app allows an operator, their own PostgreSQL login now allows too (a probe of every
-- operation on every role's own login found these refused by the database although the
-- operator holds the permission):
--
-- - users.read shows a user's sessions and API keys (without their secrets). Only ncy_admin
--   could read the two tables; now every operator role may read their non-secret columns, row
--   by row like "User" (0017): every row with users.read, else only their own.
-- - sync.run: a pull checks the server's prune mark in "SyncState", which no operator could
--   read, so every operator's first pull failed. Readable now (it holds only that mark).
-- - settings.write prunes the change feed: ncy_sync_prune(), checked, as the feed is no
--   operator's to delete from.

GRANT SELECT ("id", "user_id", "ip_address", "user_agent", "expires_at", "created_at", "authenticated_at")
  ON "Session" TO ncy_operator;
GRANT SELECT ("id", "user_id", "scopes", "last_used_at", "expires_at", "created_at") ON "ApiKey" TO ncy_operator;

ALTER TABLE "Session" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "ApiKey" ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform ON "Session" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "ApiKey" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY operator_read ON "Session" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_has_permission('users.read')) OR "user_id" = (SELECT ncy_active_user_id()));
CREATE POLICY operator_read ON "ApiKey" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_has_permission('users.read')) OR "user_id" = (SELECT ncy_active_user_id()));
-- Revoking and expiring stay what the grants allow (ADMIN: DELETE, UPDATE of expires_at).
CREATE POLICY operator_delete ON "Session" FOR DELETE TO ncy_operator USING (true);
CREATE POLICY operator_delete ON "ApiKey" FOR DELETE TO ncy_operator USING (true);
CREATE POLICY operator_update ON "ApiKey" FOR UPDATE TO ncy_operator USING (true) WITH CHECK (true);

GRANT SELECT ON "SyncState" TO ncy_operator;

-- Deletes the change feed's rows older than `p_before` and records the highest pruned
-- transaction id (a cache whose cursor may still need it must rebuild). Needs settings.write.
CREATE FUNCTION ncy_sync_prune(p_before timestamp, OUT "n" bigint, OUT "x" text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM ncy_require('settings.write');
  WITH d AS (DELETE FROM "SyncChange" WHERE "changed_at" < p_before RETURNING "xid")
  SELECT count(*), max("xid")::text INTO "n", "x" FROM d;
  IF "x" IS NOT NULL THEN
    INSERT INTO "SyncState" ("key", "value") VALUES ('pruned_xid', "x")
    ON CONFLICT ("key") DO UPDATE SET "value" = CASE
      WHEN "SyncState"."value"::xid8 > excluded."value"::xid8 THEN "SyncState"."value"
      ELSE excluded."value" END;
  END IF;
END $$;
REVOKE ALL ON FUNCTION ncy_sync_prune(timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_sync_prune(timestamp) TO ncy_operator;
