-- The database is the authority (crates/core/src/admin/operators.rs has the argument).
--
-- * Operators are PostgreSQL login roles, each mapped to one platform user in "OperatorRole" and
--   a member of one group role per built-in RBAC role (ncy_admin, ncy_manager, ncy_employee,
--   ncy_system, ncy_support), all members of ncy_operator. Identity is `session_user`, which
--   SET ROLE cannot change, so what an operator may do follows the login, never a claim.
-- * Grants follow the RBAC matrix; no operator role can read User.password_hash,
--   Session.refresh_token or ApiKey.key_hash, create objects, TRUNCATE, or UPDATE/DELETE AuditLog.
--   Privileged writes go through SECURITY DEFINER functions that check the caller.
-- * Row-Level Security isolates organizations for operators whose RBAC role is not global.
--   Every other role (the schema owner, the platform's own role) keeps seeing every row.
-- * AuditLog is written by the database for every write an operator role makes (psql too), is
--   append-only for operators, and hash-chained: each row's digest covers what it proves, each
--   link covers the previous link, and "AuditChain" holds the head. Rows get their link at insert
--   under a transaction-scoped lock, so concurrent writers queue and the chain never forks.
--
-- Roles are cluster-wide: they are created once and shared by every database of the cluster;
-- the grants, policies and mappings below are per database. Creating roles needs CREATEROLE
-- (managed PostgreSQL gives it to the database owner: RDS, Cloud SQL, Azure, Supabase).

DO $$
DECLARE
  g text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolcreaterole OR rolsuper)) THEN
    RAISE EXCEPTION 'migration 0010 creates the operator group roles and needs CREATEROLE: run it as the database owner with CREATEROLE (ALTER ROLE % CREATEROLE)', current_user;
  END IF;
  FOREACH g IN ARRAY ARRAY['ncy_operator', 'ncy_admin', 'ncy_manager', 'ncy_employee', 'ncy_system', 'ncy_support'] LOOP
    -- Another database of the cluster may be migrating at the same moment: its uncommitted
    -- CREATE ROLE makes ours wait and then fail as a duplicate, which means the role is there.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', g);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END LOOP;
  FOREACH g IN ARRAY ARRAY['ncy_admin', 'ncy_manager', 'ncy_employee', 'ncy_system', 'ncy_support'] LOOP
    IF NOT pg_has_role(g, 'ncy_operator', 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT ncy_operator TO %I', g);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END LOOP;
END $$;

-- Objects are created by their owners only (PUBLIC's CREATE on public is gone since PG 15 for
-- new databases; older ones are upgraded here), and no operator makes temporary tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$ BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ncy_operator', current_database());
END $$;

CREATE TABLE "OperatorRole" (
  "db_role" TEXT PRIMARY KEY,
  "user_id" UUID UNIQUE NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "created_by" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "rotated_at" TIMESTAMP(3)
);
CREATE INDEX "OperatorRole_created_by_idx" ON "OperatorRole"("created_by");

-- ---------------------------------------------------------------------------------------------
-- Who is calling
-- ---------------------------------------------------------------------------------------------

-- The platform user behind this connection's login role, or NULL for any other role.
CREATE FUNCTION ncy_session_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT "user_id" FROM "OperatorRole" WHERE "db_role" = session_user::text
$$;

-- True when this connection is an operator's own login.
CREATE FUNCTION ncy_is_operator() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM "OperatorRole" WHERE "db_role" = session_user::text)
$$;

-- The operator's user id while the account is usable (ACTIVE or PENDING, not deleted).
CREATE FUNCTION ncy_active_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u."id" FROM "OperatorRole" o JOIN "User" u ON u."id" = o."user_id"
  WHERE o."db_role" = session_user::text AND u."deleted_at" IS NULL
    AND u."status" IN ('ACTIVE', 'PENDING')
$$;

-- The permission keys of a user: their built-in role's and every granted role's.
CREATE FUNCTION ncy_user_permissions(uid uuid) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT p."key"
  FROM "Role" r
  JOIN "RolePermission" rp ON rp."role_id" = r."id"
  JOIN "Permission" p ON p."id" = rp."permission_id"
  WHERE r."name" = (SELECT "role"::text FROM "User" WHERE "id" = uid)
     OR r."id" IN (SELECT "role_id" FROM "UserRoleMap" WHERE "user_id" = uid)
$$;

-- True when the caller may use `perm`: any role that is not an operator (the schema owner, the
-- platform's own role; EXECUTE is granted to operators only), or an active operator holding it.
CREATE FUNCTION ncy_has_permission(perm text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  uid uuid;
BEGIN
  IF NOT ncy_is_operator() THEN
    RETURN true;
  END IF;
  uid := ncy_active_user_id();
  RETURN uid IS NOT NULL AND EXISTS (SELECT 1 FROM ncy_user_permissions(uid) k WHERE k = perm);
END $$;

-- Raises insufficient_privilege naming the permission unless the caller has it.
CREATE FUNCTION ncy_require(perm text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT ncy_has_permission(perm) THEN
    RAISE EXCEPTION 'permission denied: this needs the % permission', perm
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

-- True for an active operator whose RBAC role is global (ADMIN or SYSTEM, built-in or granted).
CREATE FUNCTION ncy_is_global() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM "User" u WHERE u."id" = ncy_active_user_id()
      AND (u."role" IN ('ADMIN', 'SYSTEM') OR EXISTS (
        SELECT 1 FROM "UserRoleMap" m JOIN "Role" r ON r."id" = m."role_id"
        WHERE m."user_id" = u."id" AND r."name" IN ('ADMIN', 'SYSTEM'))))
$$;

-- The organizations where the active operator is a member with one of `roles`.
CREATE FUNCTION ncy_my_orgs(roles "OrgRole"[]) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(m."organization_id"), '{}')
  FROM "OrganizationMember" m
  WHERE m."user_id" = ncy_active_user_id() AND m."deleted_at" IS NULL AND m."role" = ANY (roles)
$$;

-- The projects of those organizations.
CREATE FUNCTION ncy_my_projects(roles "OrgRole"[]) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(p."id"), '{}') FROM "Project" p
  WHERE p."organization_id" = ANY (ncy_my_orgs(roles))
$$;

-- The teams of those organizations.
CREATE FUNCTION ncy_my_teams(roles "OrgRole"[]) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(t."id"), '{}') FROM "Team" t
  WHERE t."organization_id" = ANY (ncy_my_orgs(roles))
$$;

-- The organizations a newly created one may be joined to by its creator: those they own.
CREATE FUNCTION ncy_owned_orgs() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(o."id"), '{}') FROM "Organization" o
  WHERE o."owner_id" = ncy_active_user_id()
$$;

-- ---------------------------------------------------------------------------------------------
-- Grants: the RBAC matrix. Every operator: the reference tables, the PII-minimal user columns,
-- the organization tables (filtered by the policies below), writing audit and sync records.
-- ---------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA public TO ncy_operator;
GRANT SELECT ON "Role", "Permission", "RolePermission", "UserRoleMap", "OperatorRole", "Settings",
  "SyncChange", "_ncy_migrations" TO ncy_operator;
GRANT SELECT ("id", "email", "role", "status", "created_at", "updated_at", "deleted_at") ON "User" TO ncy_operator;
GRANT SELECT ON "Organization", "OrganizationMember", "Team", "TeamMember", "Project", "Task" TO ncy_operator;
GRANT INSERT ON "AuditLog" TO ncy_operator;
GRANT SELECT, INSERT ON "SyncMutation" TO ncy_operator;

-- EMPLOYEE: review their own tasks (the policies keep it to tasks assigned to them).
GRANT UPDATE ("status", "metadata", "updated_at") ON "Task" TO ncy_employee;

-- MANAGER: organizations, members, teams, projects and tasks of their organizations.
GRANT INSERT, UPDATE, DELETE ON "Organization", "OrganizationMember", "Team", "TeamMember", "Project", "Task" TO ncy_manager;

-- SUPPORT: the GDPR queue and consents (who recorded a consent comes from ncy_recorded_by; the
-- audit log itself is audit.read's).
GRANT SELECT, INSERT, UPDATE ON "GdprRequest", "Consent" TO ncy_support;
GRANT SELECT ON "LegalHold" TO ncy_support;

-- SYSTEM: read everything an automation needs, record backups.
GRANT SELECT ON "AuditLog", "ErrorLog", "AccessLog", "GdprRequest", "Consent", "LegalHold",
  "BackupSnapshot", "LoginAttempt" TO ncy_system;
GRANT INSERT, UPDATE ON "BackupSnapshot" TO ncy_system;

-- ADMIN: everything but the secret columns, the audit trail's history and the schema.
GRANT SELECT ON "AuditLog", "ErrorLog", "AccessLog", "LoginAttempt", "UserPreferences", "Notification",
  "File", "Message", "GdprRequest", "Consent", "BackupSnapshot", "LegalHold", "SyncMutation" TO ncy_admin;
GRANT INSERT, UPDATE, DELETE ON "Organization", "OrganizationMember", "Team", "TeamMember", "Project", "Task",
  "UserPreferences", "Notification", "File", "Message", "Settings", "GdprRequest", "Consent",
  "BackupSnapshot", "LegalHold", "UserRoleMap", "Role", "RolePermission" TO ncy_admin;
GRANT INSERT ("id", "email", "password_hash", "role", "status", "created_at", "updated_at", "deleted_at") ON "User" TO ncy_admin;
GRANT UPDATE ("email", "role", "status", "updated_at", "deleted_at") ON "User" TO ncy_admin;
GRANT SELECT ("id", "user_id", "ip_address", "user_agent", "expires_at", "created_at") ON "Session" TO ncy_admin;
GRANT DELETE ON "Session" TO ncy_admin;
GRANT SELECT ("id", "user_id", "scopes", "last_used_at", "expires_at", "created_at") ON "ApiKey" TO ncy_admin;
GRANT UPDATE ("expires_at") ON "ApiKey" TO ncy_admin;
GRANT DELETE ON "ApiKey" TO ncy_admin;

-- ---------------------------------------------------------------------------------------------
-- Organization isolation. Operators see organizations they belong to, with power from their
-- OrgRole, unless their RBAC role is global. Every other role keeps every row (`platform`).
-- ---------------------------------------------------------------------------------------------

ALTER TABLE "Organization" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "OrganizationMember" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Team" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "TeamMember" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Project" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Task" ENABLE ROW LEVEL SECURITY;

CREATE POLICY platform ON "Organization" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "OrganizationMember" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "Team" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "TeamMember" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "Project" USING ((SELECT NOT ncy_is_operator()));
CREATE POLICY platform ON "Task" USING ((SELECT NOT ncy_is_operator()));

-- Organization: members read; OWNER and ADMIN edit; only OWNER deletes (transfer and soft delete
-- are checked by ncy_org_guard); anyone with orgs.write creates one they own.
CREATE POLICY member_read ON "Organization" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[])
         OR "owner_id" = (SELECT ncy_active_user_id()));
CREATE POLICY admin_edit ON "Organization" FOR UPDATE TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN}'))::uuid[]));
CREATE POLICY owner_delete ON "Organization" FOR DELETE TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "id" = ANY ((SELECT ncy_my_orgs('{OWNER}'))::uuid[]));
CREATE POLICY create_own ON "Organization" FOR INSERT TO ncy_operator
  WITH CHECK ((SELECT ncy_is_global()) OR ("owner_id" = (SELECT ncy_active_user_id()) AND (SELECT ncy_has_permission('orgs.write'))));

CREATE POLICY member_read ON "OrganizationMember" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[]));
CREATE POLICY admin_write ON "OrganizationMember" FOR ALL TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN}'))::uuid[])
              OR "organization_id" = ANY ((SELECT ncy_owned_orgs())::uuid[]));

CREATE POLICY member_read ON "Team" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[]));
CREATE POLICY manager_write ON "Team" FOR ALL TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER}'))::uuid[]));

CREATE POLICY member_read ON "TeamMember" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "team_id" = ANY ((SELECT ncy_my_teams('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[]));
CREATE POLICY manager_write ON "TeamMember" FOR ALL TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "team_id" = ANY ((SELECT ncy_my_teams('{OWNER,ADMIN,MANAGER}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "team_id" = ANY ((SELECT ncy_my_teams('{OWNER,ADMIN,MANAGER}'))::uuid[]));

CREATE POLICY member_read ON "Project" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[]));
CREATE POLICY manager_write ON "Project" FOR ALL TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "organization_id" = ANY ((SELECT ncy_my_orgs('{OWNER,ADMIN,MANAGER}'))::uuid[]));

-- Task: OWNER, ADMIN and MANAGER of the organization read and write its tasks; a MEMBER reads
-- and reviews (column grants: status and metadata) the tasks assigned to them.
CREATE POLICY member_read ON "Task" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "project_id" = ANY ((SELECT ncy_my_projects('{OWNER,ADMIN,MANAGER}'))::uuid[])
         OR ("assignee_id" = (SELECT ncy_active_user_id()) AND "project_id" = ANY ((SELECT ncy_my_projects('{MEMBER}'))::uuid[])));
CREATE POLICY manager_write ON "Task" FOR ALL TO ncy_operator
  USING ((SELECT ncy_is_global()) OR "project_id" = ANY ((SELECT ncy_my_projects('{OWNER,ADMIN,MANAGER}'))::uuid[]))
  WITH CHECK ((SELECT ncy_is_global()) OR "project_id" = ANY ((SELECT ncy_my_projects('{OWNER,ADMIN,MANAGER}'))::uuid[]));
CREATE POLICY assignee_review ON "Task" FOR UPDATE TO ncy_operator
  USING ("assignee_id" = (SELECT ncy_active_user_id()) AND "project_id" = ANY ((SELECT ncy_my_projects('{OWNER,ADMIN,MANAGER,MEMBER}'))::uuid[]))
  WITH CHECK ("assignee_id" = (SELECT ncy_active_user_id()));

-- Ownership transfer and (soft) deletion of an organization are the OWNER's.
CREATE FUNCTION ncy_org_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF ncy_is_operator() AND NOT ncy_is_global()
     AND (NEW."owner_id" IS DISTINCT FROM OLD."owner_id" OR NEW."deleted_at" IS DISTINCT FROM OLD."deleted_at")
     AND NOT (OLD."id" = ANY (ncy_my_orgs('{OWNER}'))) THEN
    RAISE EXCEPTION 'permission denied: only the organization''s OWNER may transfer or delete it'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ncy_org_guard BEFORE UPDATE ON "Organization"
  FOR EACH ROW EXECUTE FUNCTION ncy_org_guard();

-- ---------------------------------------------------------------------------------------------
-- The audit trail: append-only, hash-chained, written by the database for operators' writes.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE "AuditLog"
  ADD COLUMN "seq" BIGINT,
  ADD COLUMN "digest" BYTEA,
  ADD COLUMN "prev_hash" BYTEA,
  ADD COLUMN "chain_hash" BYTEA,
  ADD COLUMN "txid" BIGINT,
  ADD COLUMN "redacted_at" TIMESTAMP(3);
CREATE UNIQUE INDEX "AuditLog_seq_key" ON "AuditLog"("seq");
CREATE INDEX "AuditLog_txid_idx" ON "AuditLog"("txid", "target_table", "target_id") WHERE "txid" IS NOT NULL;

-- The head of the chain (one row), and the checkpoints retention deletes behind.
CREATE TABLE "AuditChain" (
  "id" INTEGER PRIMARY KEY CHECK ("id" = 1),
  "seq" BIGINT NOT NULL,
  "head" BYTEA NOT NULL
);
CREATE TABLE "AuditCheckpoint" (
  "seq" BIGINT PRIMARY KEY,
  "chain_hash" BYTEA NOT NULL,
  "rows_before" BIGINT NOT NULL,
  "created_by" UUID,
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
GRANT SELECT ON "AuditChain", "AuditCheckpoint" TO ncy_admin, ncy_system;

-- What a row's digest proves: everything but the transport details GDPR erasure removes
-- (ip_address, user_agent). A redaction of the proven fields sets redacted_at and keeps the
-- digest, so the chain still verifies and says where it was redacted.
CREATE FUNCTION ncy_audit_digest(a "AuditLog") RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(jsonb_build_array(a."id", a."seq", a."user_id", a."action", a."target_table",
    a."target_id", a."old_value", a."new_value", a."created_at")::text, 'UTF8'))
$$;

-- Seals every new row: forces the actor of an operator's row to that operator (no forged
-- entries), marks the transaction (so the write trigger does not audit twice), and links it to
-- the newest row. A transaction-scoped advisory lock queues writers from their first audit row to
-- their commit, so each reads the newest committed link and the chain never forks (the unique
-- "seq" makes a fork impossible even without it). Rows inserted earlier by the same statement
-- are visible here (PostgreSQL's trigger visibility rules), so COPY and multi-row INSERTs chain
-- row by row without touching the head; the statement trigger below moves the head once.
CREATE FUNCTION ncy_audit_seal() RETURNS trigger
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

-- Moves the head to the newest row, once per statement.
CREATE FUNCTION ncy_audit_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE "AuditChain" c SET "seq" = a."seq", "head" = a."chain_hash"
    FROM (SELECT "seq", "chain_hash" FROM "AuditLog" ORDER BY "seq" DESC LIMIT 1) a
   WHERE c."id" = 1 AND a."seq" > c."seq";
  RETURN NULL;
END $$;

-- Back-fill the rows written before the chain existed, oldest first.
INSERT INTO "AuditChain" ("id", "seq", "head") VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
DO $$
DECLARE
  r record;
  s bigint := 0;
  prev bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
  d bytea;
  a "AuditLog";
BEGIN
  FOR r IN SELECT "id" FROM "AuditLog" ORDER BY "created_at", "id" LOOP
    s := s + 1;
    UPDATE "AuditLog" SET "seq" = s WHERE "id" = r."id" RETURNING * INTO a;
    d := ncy_audit_digest(a);
    UPDATE "AuditLog" SET "digest" = d, "prev_hash" = prev, "chain_hash" = sha256(prev || d) WHERE "id" = r."id";
    prev := sha256(prev || d);
  END LOOP;
  UPDATE "AuditChain" SET "seq" = s, "head" = prev WHERE "id" = 1;
END $$;
ALTER TABLE "AuditLog" ALTER COLUMN "seq" SET NOT NULL;

CREATE TRIGGER ncy_audit_seal BEFORE INSERT ON "AuditLog"
  FOR EACH ROW EXECUTE FUNCTION ncy_audit_seal();
CREATE TRIGGER ncy_audit_head AFTER INSERT ON "AuditLog"
  FOR EACH STATEMENT EXECUTE FUNCTION ncy_audit_head();

-- Proven fields never change, and rows are deleted only behind a checkpoint and after 30 days
-- (the owner can still drop this trigger: `audit verify` then finds the gap).
CREATE FUNCTION ncy_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD."seq" > coalesce((SELECT max("seq") FROM "AuditCheckpoint"), 0)
       OR OLD."created_at" > (now() AT TIME ZONE 'UTC') - interval '30 days' THEN
      RAISE EXCEPTION 'AuditLog rows are deleted only behind a retention checkpoint and when older than 30 days'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
  END IF;
  -- The chain's own fields and the entry's identity never change.
  IF (NEW."id", NEW."seq", NEW."user_id", NEW."action", NEW."target_table", NEW."target_id", NEW."created_at",
      NEW."digest", NEW."prev_hash", NEW."chain_hash")
     IS DISTINCT FROM
     (OLD."id", OLD."seq", OLD."user_id", OLD."action", OLD."target_table", OLD."target_id", OLD."created_at",
      OLD."digest", OLD."prev_hash", OLD."chain_hash") THEN
    RAISE EXCEPTION 'AuditLog rows are append-only: an entry''s identity and chain links never change'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- A change of the values is a redaction (GDPR erasure rewrites the subject's terms, also
  -- through the platform's anonymize_user_data()): it is recorded, and `audit verify` counts it.
  IF (NEW."old_value"::text, NEW."new_value"::text) IS DISTINCT FROM (OLD."old_value"::text, OLD."new_value"::text) THEN
    NEW."redacted_at" := coalesce(NEW."redacted_at", now() AT TIME ZONE 'UTC');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ncy_audit_guard BEFORE UPDATE OR DELETE ON "AuditLog"
  FOR EACH ROW EXECUTE FUNCTION ncy_audit_guard();

-- Records a retention checkpoint at the last row older than `cutoff` and returns its seq
-- (0 when there is nothing to delete). Rows up to it may then be deleted.
CREATE FUNCTION ncy_audit_checkpoint(cutoff timestamp) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s bigint;
  h bytea;
BEGIN
  PERFORM ncy_require('gdpr.handle');
  IF cutoff > (now() AT TIME ZONE 'UTC') - interval '30 days' THEN
    RAISE EXCEPTION 'the audit log keeps at least the last 30 days' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT coalesce(min("seq"), (SELECT "seq" FROM "AuditChain" WHERE "id" = 1) + 1) - 1 INTO s
    FROM "AuditLog" WHERE "created_at" >= cutoff;
  IF s <= coalesce((SELECT max("seq") FROM "AuditCheckpoint"), 0) THEN
    RETURN coalesce((SELECT max("seq") FROM "AuditCheckpoint"), 0);
  END IF;
  SELECT "chain_hash" INTO h FROM "AuditLog" WHERE "seq" = s;
  IF h IS NULL THEN
    RETURN coalesce((SELECT max("seq") FROM "AuditCheckpoint"), 0);
  END IF;
  INSERT INTO "AuditCheckpoint" ("seq", "chain_hash", "rows_before", "created_by")
    VALUES (s, h, s, ncy_session_user_id());
  RETURN s;
END $$;

-- Erases the transport details of a subject's audit rows (GDPR erasure): the digest does not
-- cover them, so the chain keeps verifying.
CREATE FUNCTION ncy_audit_erase_transport(subject uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM ncy_require('gdpr.handle');
  UPDATE "AuditLog" SET "ip_address" = NULL, "user_agent" = NULL
   WHERE ("user_id" = subject OR ("target_table" = 'User' AND "target_id" = subject))
     AND ("ip_address" IS NOT NULL OR "user_agent" IS NOT NULL);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- Writes one AuditLog row for an operator's row change, unless the application already wrote
-- one about the same row in this transaction. Runs at commit (deferred), so the application's
-- own entry, written after its UPDATE, is seen. Changed fields only, secrets redacted.
CREATE FUNCTION ncy_audit_write() RETURNS trigger
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

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['User', 'Session', 'ApiKey', 'Role', 'Permission', 'RolePermission', 'UserRoleMap',
    'Organization', 'OrganizationMember', 'Team', 'TeamMember', 'Project', 'Task', 'UserPreferences',
    'Notification', 'File', 'Message', 'Settings', 'GdprRequest', 'Consent', 'BackupSnapshot', 'LegalHold',
    'OperatorRole'] LOOP
    EXECUTE format('CREATE CONSTRAINT TRIGGER ncy_audit_write AFTER INSERT OR UPDATE OR DELETE ON %I
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (ncy_is_operator()) EXECUTE FUNCTION ncy_audit_write()', t);
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Operator roles: provisioning, rotation, revocation, and keeping them in step with the user.
-- ---------------------------------------------------------------------------------------------

-- The group roles a user's operator login should be a member of.
CREATE FUNCTION ncy_operator_groups(uid uuid) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(DISTINCT 'ncy_' || lower(r)), '{}') FROM (
    SELECT "role"::text AS r FROM "User" WHERE "id" = uid
    UNION SELECT ro."name" FROM "UserRoleMap" m JOIN "Role" ro ON ro."id" = m."role_id" WHERE m."user_id" = uid
  ) x WHERE r IN ('ADMIN', 'MANAGER', 'EMPLOYEE', 'SYSTEM', 'SUPPORT')
$$;

-- Brings a user's operator login in step: group memberships from their roles, LOGIN only while
-- the account is usable; a suspended or deleted operator's open connections are ended.
CREATE FUNCTION ncy_operator_sync(uid uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r text;
  want text[];
  g text;
  usable boolean;
BEGIN
  SELECT "db_role" INTO r FROM "OperatorRole" WHERE "user_id" = uid;
  IF r IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
    RETURN;
  END IF;
  want := ncy_operator_groups(uid);
  FOREACH g IN ARRAY ARRAY['ncy_admin', 'ncy_manager', 'ncy_employee', 'ncy_system', 'ncy_support'] LOOP
    IF g = ANY (want) AND NOT pg_has_role(r, g, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO %I', g, r);
    ELSIF NOT (g = ANY (want)) AND EXISTS (
        SELECT 1 FROM pg_auth_members am WHERE am.roleid = (SELECT oid FROM pg_roles WHERE rolname = g)
          AND am.member = (SELECT oid FROM pg_roles WHERE rolname = r)) THEN
      EXECUTE format('REVOKE %I FROM %I', g, r);
    END IF;
  END LOOP;
  SELECT "deleted_at" IS NULL AND "status" IN ('ACTIVE', 'PENDING') INTO usable FROM "User" WHERE "id" = uid;
  IF coalesce(usable, false) THEN
    EXECUTE format('ALTER ROLE %I LOGIN', r);
  ELSE
    EXECUTE format('ALTER ROLE %I NOLOGIN', r);
    PERFORM ncy_operator_disconnect(r);
  END IF;
END $$;

-- Ends every open connection of a login role (needs pg_signal_backend on a managed server;
-- without it the role still cannot log in again and every call is refused).
CREATE FUNCTION ncy_operator_disconnect(r text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n integer := 0;
  p integer;
BEGIN
  FOR p IN SELECT pid FROM pg_stat_activity WHERE usename = r AND pid <> pg_backend_pid() LOOP
    BEGIN
      IF pg_terminate_backend(p) THEN n := n + 1; END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot end connection % of %: grant pg_signal_backend to the schema owner', p, r;
    END;
  END LOOP;
  RETURN n;
END $$;

CREATE FUNCTION ncy_operator_sync_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_TABLE_NAME = 'UserRoleMap' THEN
    PERFORM ncy_operator_sync(CASE WHEN TG_OP = 'DELETE' THEN OLD."user_id" ELSE NEW."user_id" END);
  ELSE
    PERFORM ncy_operator_sync(NEW."id");
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER ncy_operator_sync AFTER UPDATE OF "role", "status", "deleted_at" ON "User"
  FOR EACH ROW WHEN (OLD."role" IS DISTINCT FROM NEW."role" OR OLD."status" IS DISTINCT FROM NEW."status"
                     OR OLD."deleted_at" IS DISTINCT FROM NEW."deleted_at")
  EXECUTE FUNCTION ncy_operator_sync_trigger();
CREATE TRIGGER ncy_operator_sync AFTER INSERT OR DELETE ON "UserRoleMap"
  FOR EACH ROW EXECUTE FUNCTION ncy_operator_sync_trigger();

-- Creates the login role `db_role` for a user with a SCRAM verifier computed by the client (the
-- password itself never reaches the server or its logs). Needs roles.write.
CREATE FUNCTION ncy_operator_provision(uid uuid, db_role text, verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM ncy_require('roles.write');
  IF db_role !~ '^ncy_op_[a-z0-9_]{1,50}$' THEN
    RAISE EXCEPTION 'operator role names are ncy_op_ followed by lower-case letters, digits or _' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF verifier !~ '^SCRAM-SHA-256\$' THEN
    RAISE EXCEPTION 'the password must be given as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM "OperatorRole" WHERE "user_id" = uid) THEN
    RAISE EXCEPTION 'this user already has an operator role' USING ERRCODE = 'unique_violation', CONSTRAINT = 'OperatorRole_user_id_key';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = db_role) THEN
    RAISE EXCEPTION 'the database role % already exists on this server', db_role USING ERRCODE = 'unique_violation', CONSTRAINT = 'OperatorRole_db_role_key';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN INHERIT NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', db_role, verifier);
  INSERT INTO "OperatorRole" ("db_role", "user_id", "created_by") VALUES (db_role, uid, ncy_session_user_id());
  PERFORM ncy_operator_sync(uid);
END $$;

-- Replaces an operator's password (SCRAM verifier). Needs roles.write.
CREATE FUNCTION ncy_operator_rotate(uid uuid, verifier text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r text;
BEGIN
  PERFORM ncy_require('roles.write');
  IF verifier !~ '^SCRAM-SHA-256\$' THEN
    RAISE EXCEPTION 'the password must be given as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT "db_role" INTO r FROM "OperatorRole" WHERE "user_id" = uid;
  IF r IS NULL THEN
    RAISE EXCEPTION 'this user has no operator role' USING ERRCODE = 'no_data_found';
  END IF;
  EXECUTE format('ALTER ROLE %I PASSWORD %L', r, verifier);
  UPDATE "OperatorRole" SET "rotated_at" = (now() AT TIME ZONE 'UTC') WHERE "user_id" = uid;
  RETURN r;
END $$;

-- Drops an operator's login role and ends its connections. Needs roles.write.
CREATE FUNCTION ncy_operator_revoke(uid uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r text;
BEGIN
  PERFORM ncy_require('roles.write');
  SELECT "db_role" INTO r FROM "OperatorRole" WHERE "user_id" = uid;
  IF r IS NULL THEN
    RAISE EXCEPTION 'this user has no operator role' USING ERRCODE = 'no_data_found';
  END IF;
  IF r = session_user::text THEN
    RAISE EXCEPTION 'an operator cannot revoke their own database role' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM "OperatorRole" WHERE "user_id" = uid;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
    EXECUTE format('ALTER ROLE %I NOLOGIN', r);
    PERFORM ncy_operator_disconnect(r);
    EXECUTE format('DROP ROLE %I', r);
  END IF;
  RETURN r;
END $$;

-- Whether a user's stored hash is legacy bcrypt (upgraded at the next login): the one fact about
-- the hash administrators see, without any operator role reading the column.
CREATE FUNCTION ncy_password_is_legacy(uid uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT "password_hash" LIKE '$2%' FROM "User" WHERE "id" = uid
$$;

-- Who wrote the first audit entry about a row (its email, 'system' without an actor), for those
-- who may see the row's history without the audit log (GDPR staff: consents).
CREATE FUNCTION ncy_recorded_by(tbl text, target uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT CASE WHEN ncy_has_permission('gdpr.read') OR ncy_has_permission('audit.read') THEN
    (SELECT coalesce(u."email", 'system') FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
      WHERE a."target_id" = target AND a."target_table" = tbl ORDER BY a."created_at" LIMIT 1) END
$$;

-- Sets a user's password hash (argon2id, computed by the client). Needs users.credentials.
CREATE FUNCTION ncy_set_password(uid uuid, hash text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM ncy_require('users.credentials');
  IF hash !~ '^\$argon2id\$' THEN
    RAISE EXCEPTION 'password hashes are argon2id' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE "User" SET "password_hash" = hash, "updated_at" = (now() AT TIME ZONE 'UTC') WHERE "id" = uid;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no user %', uid USING ERRCODE = 'no_data_found';
  END IF;
END $$;

-- PUBLIC must not reach SECURITY DEFINER code. Operators run what the policies evaluate as them
-- and the checked entry points; the internal helpers (role sync, disconnect) and the trigger
-- functions stay the owner's. Who the caller is stays public (policies and triggers ask it for
-- every role).
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure::text AS sig, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.proname LIKE 'ncy\_%'
             AND p.proname NOT IN ('ncy_sync_capture', 'ncy_is_operator', 'ncy_session_user_id', 'ncy_audit_digest') LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
    IF f.proname IN ('ncy_active_user_id', 'ncy_user_permissions', 'ncy_has_permission', 'ncy_require',
        'ncy_is_global', 'ncy_my_orgs', 'ncy_my_projects', 'ncy_my_teams', 'ncy_owned_orgs',
        'ncy_audit_checkpoint', 'ncy_audit_erase_transport', 'ncy_operator_provision', 'ncy_operator_rotate',
        'ncy_operator_revoke', 'ncy_set_password', 'ncy_password_is_legacy', 'ncy_recorded_by') THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ncy_operator', f.sig);
    END IF;
  END LOOP;
END $$;

-- The change feed is written for operators' writes too, who cannot write SyncChange themselves.
ALTER FUNCTION ncy_sync_capture() SECURITY DEFINER SET search_path = public, pg_temp;
