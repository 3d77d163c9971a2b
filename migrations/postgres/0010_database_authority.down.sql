-- Undoes 0010 in this database. The operators' login roles mapped here are dropped; the group
-- roles are cluster-wide and dropped only when no other database still uses them.

ALTER FUNCTION ncy_sync_capture() SECURITY INVOKER;
ALTER FUNCTION ncy_sync_capture() RESET search_path;

DO $$
DECLARE
  r text;
BEGIN
  FOR r IN SELECT "db_role" FROM "OperatorRole" LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['User', 'Session', 'ApiKey', 'Role', 'Permission', 'RolePermission', 'UserRoleMap',
    'Organization', 'OrganizationMember', 'Team', 'TeamMember', 'Project', 'Task', 'UserPreferences',
    'Notification', 'File', 'Message', 'Settings', 'GdprRequest', 'Consent', 'BackupSnapshot', 'LegalHold',
    'OperatorRole'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS ncy_audit_write ON %I', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['Organization', 'OrganizationMember', 'Team', 'TeamMember', 'Project', 'Task'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS platform ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS member_read ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS admin_edit ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS admin_write ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS owner_delete ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS create_own ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS manager_write ON %I', t);
    EXECUTE format('DROP POLICY IF EXISTS assignee_review ON %I', t);
    EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
END $$;

DROP TRIGGER IF EXISTS ncy_operator_sync ON "User";
DROP TRIGGER IF EXISTS ncy_operator_sync ON "UserRoleMap";
DROP TRIGGER IF EXISTS ncy_org_guard ON "Organization";
DROP TRIGGER IF EXISTS ncy_audit_seal ON "AuditLog";
DROP TRIGGER IF EXISTS ncy_audit_head ON "AuditLog";
DROP TRIGGER IF EXISTS ncy_audit_guard ON "AuditLog";

DROP FUNCTION IF EXISTS ncy_set_password(uuid, text);
DROP FUNCTION IF EXISTS ncy_password_is_legacy(uuid);
DROP FUNCTION IF EXISTS ncy_recorded_by(text, uuid);
DROP FUNCTION IF EXISTS ncy_operator_revoke(uuid);
DROP FUNCTION IF EXISTS ncy_operator_rotate(uuid, text);
DROP FUNCTION IF EXISTS ncy_operator_provision(uuid, text, text);
DROP FUNCTION IF EXISTS ncy_operator_sync_trigger();
DROP FUNCTION IF EXISTS ncy_operator_disconnect(text);
DROP FUNCTION IF EXISTS ncy_operator_sync(uuid);
DROP FUNCTION IF EXISTS ncy_operator_groups(uuid);
DROP FUNCTION IF EXISTS ncy_audit_write();
DROP FUNCTION IF EXISTS ncy_audit_erase_transport(uuid);
DROP FUNCTION IF EXISTS ncy_audit_checkpoint(timestamp);
DROP FUNCTION IF EXISTS ncy_audit_guard();
DROP FUNCTION IF EXISTS ncy_audit_seal();
DROP FUNCTION IF EXISTS ncy_audit_head();
DROP FUNCTION IF EXISTS ncy_audit_digest("AuditLog");
DROP FUNCTION IF EXISTS ncy_org_guard();
DROP FUNCTION IF EXISTS ncy_owned_orgs();
DROP FUNCTION IF EXISTS ncy_my_teams("OrgRole"[]);
DROP FUNCTION IF EXISTS ncy_my_projects("OrgRole"[]);
DROP FUNCTION IF EXISTS ncy_my_orgs("OrgRole"[]);
DROP FUNCTION IF EXISTS ncy_is_global();
DROP FUNCTION IF EXISTS ncy_require(text);
DROP FUNCTION IF EXISTS ncy_has_permission(text);
DROP FUNCTION IF EXISTS ncy_user_permissions(uuid);
DROP FUNCTION IF EXISTS ncy_active_user_id();
DROP FUNCTION IF EXISTS ncy_is_operator();
DROP FUNCTION IF EXISTS ncy_session_user_id();

DROP TABLE IF EXISTS "AuditCheckpoint";
DROP TABLE IF EXISTS "AuditChain";
DROP INDEX IF EXISTS "AuditLog_txid_idx";
DROP INDEX IF EXISTS "AuditLog_seq_key";
ALTER TABLE "AuditLog"
  DROP COLUMN IF EXISTS "seq",
  DROP COLUMN IF EXISTS "digest",
  DROP COLUMN IF EXISTS "prev_hash",
  DROP COLUMN IF EXISTS "chain_hash",
  DROP COLUMN IF EXISTS "txid",
  DROP COLUMN IF EXISTS "redacted_at";
DROP TABLE IF EXISTS "OperatorRole";

DO $$
DECLARE
  g text;
BEGIN
  FOREACH g IN ARRAY ARRAY['ncy_admin', 'ncy_manager', 'ncy_employee', 'ncy_system', 'ncy_support', 'ncy_operator'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
      EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', g);
      EXECUTE format('REVOKE ALL ON SCHEMA public FROM %I', g);
      EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), g);
    END IF;
  END LOOP;
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
  FOREACH g IN ARRAY ARRAY['ncy_admin', 'ncy_manager', 'ncy_employee', 'ncy_system', 'ncy_support', 'ncy_operator'] LOOP
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
        EXECUTE format('DROP ROLE %I', g);
      END IF;
    EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
      -- still granted something in another database of this cluster: keep it
      NULL;
    END;
  END LOOP;
END $$;
