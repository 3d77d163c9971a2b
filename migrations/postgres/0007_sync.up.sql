-- Offline sync (crates/sync). Server side: a change feed filled by statement-level triggers on
-- the synced tables (Organization, OrganizationMember, Team, TeamMember, Project, Task, and
-- User when its PII-minimal columns change), and the ledger of pushed mutations keyed by their
-- mutation id (a retried push applies nothing twice). Client side (used by the SQLite cache,
-- present on both stores so the two schemas carry the same tables): outbox, conflicts, state.
--
-- Each change row records the writing transaction (pg_current_xact_id()). A reader consumes
-- rows by transaction id below its snapshot's xmin, so a transaction that took an early
-- sequence number and commits late is never skipped (the argument is in crates/sync/src/pull.rs).

CREATE TABLE "SyncChange" (
  "seq" BIGSERIAL PRIMARY KEY,
  "xid" XID8 NOT NULL DEFAULT pg_current_xact_id(),
  "table_name" TEXT NOT NULL,
  "row_id" UUID NOT NULL,
  "row_id2" UUID,
  "op" TEXT NOT NULL CHECK ("op" IN ('insert', 'update', 'delete')),
  "changed_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "SyncChange_xid_idx" ON "SyncChange"("xid");

CREATE TABLE "SyncMutation" (
  "id" UUID PRIMARY KEY,
  "table_name" TEXT NOT NULL,
  "row_id" UUID NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('applied', 'noop', 'conflict', 'rejected')),
  "result" JSONB NOT NULL DEFAULT '{}',
  "operator_id" UUID,
  "local_time" TIMESTAMP(3) NOT NULL,
  "applied_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "SyncOutbox" (
  "seq" BIGSERIAL PRIMARY KEY,
  "mutation_id" UUID UNIQUE NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" UUID NOT NULL,
  "base" JSONB NOT NULL,
  "new" JSONB NOT NULL,
  "operator_id" UUID NOT NULL,
  "operator_email" TEXT NOT NULL,
  "local_time" TIMESTAMP(3) NOT NULL,
  "status" TEXT NOT NULL DEFAULT 'pending' CHECK ("status" IN ('pending', 'applied', 'noop', 'conflict', 'rejected')),
  "pushed_at" TIMESTAMP(3)
);
CREATE INDEX "SyncOutbox_row_id_idx" ON "SyncOutbox"("row_id");

CREATE TABLE "SyncConflict" (
  "id" UUID PRIMARY KEY,
  "mutation_id" UUID NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" UUID NOT NULL,
  "field" TEXT NOT NULL,
  "base" JSONB,
  "mine" JSONB,
  "theirs" JSONB,
  "reason" TEXT NOT NULL,
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "resolved_at" TIMESTAMP(3),
  "resolution" TEXT
);

CREATE TABLE "SyncState" (
  "key" TEXT PRIMARY KEY,
  "value" TEXT NOT NULL
);

CREATE FUNCTION ncy_sync_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- PL/pgSQL compiles a trigger function once per table, so each branch below is planned only
  -- against the table it names.
  IF TG_TABLE_NAME = 'TeamMember' THEN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "row_id2", "op")
        SELECT TG_TABLE_NAME, n."team_id", n."user_id", 'insert' FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "row_id2", "op")
        SELECT TG_TABLE_NAME, k."team_id", k."user_id", 'update'
        FROM (SELECT "team_id", "user_id" FROM old_rows UNION SELECT "team_id", "user_id" FROM new_rows) k;
    ELSE
      INSERT INTO "SyncChange" ("table_name", "row_id", "row_id2", "op")
        SELECT TG_TABLE_NAME, o."team_id", o."user_id", 'delete' FROM old_rows o;
    END IF;
  ELSIF TG_TABLE_NAME = 'User' THEN
    -- Only the PII-minimal columns the cache holds; logins and password changes are not news.
    IF TG_OP = 'INSERT' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, n."id", 'insert' FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, n."id", 'update' FROM new_rows n
        LEFT JOIN old_rows o ON o."id" = n."id"
        WHERE o."id" IS NULL
           OR (n."email", n."role", n."status", n."created_at", n."deleted_at")
              IS DISTINCT FROM (o."email", o."role", o."status", o."created_at", o."deleted_at");
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, o."id", 'delete' FROM old_rows o
        WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n."id" = o."id");
    ELSE
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, o."id", 'delete' FROM old_rows o;
    END IF;
  ELSE
    IF TG_OP = 'INSERT' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, n."id", 'insert' FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, k."id", 'update'
        FROM (SELECT "id" FROM old_rows UNION SELECT "id" FROM new_rows) k;
    ELSE
      INSERT INTO "SyncChange" ("table_name", "row_id", "op")
        SELECT TG_TABLE_NAME, o."id", 'delete' FROM old_rows o;
    END IF;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Organization_sync_ins" AFTER INSERT ON "Organization" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Organization_sync_upd" AFTER UPDATE ON "Organization" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Organization_sync_del" AFTER DELETE ON "Organization" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "OrganizationMember_sync_ins" AFTER INSERT ON "OrganizationMember" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "OrganizationMember_sync_upd" AFTER UPDATE ON "OrganizationMember" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "OrganizationMember_sync_del" AFTER DELETE ON "OrganizationMember" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Team_sync_ins" AFTER INSERT ON "Team" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Team_sync_upd" AFTER UPDATE ON "Team" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Team_sync_del" AFTER DELETE ON "Team" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "TeamMember_sync_ins" AFTER INSERT ON "TeamMember" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "TeamMember_sync_upd" AFTER UPDATE ON "TeamMember" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "TeamMember_sync_del" AFTER DELETE ON "TeamMember" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Project_sync_ins" AFTER INSERT ON "Project" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Project_sync_upd" AFTER UPDATE ON "Project" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Project_sync_del" AFTER DELETE ON "Project" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Task_sync_ins" AFTER INSERT ON "Task" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Task_sync_upd" AFTER UPDATE ON "Task" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "Task_sync_del" AFTER DELETE ON "Task" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "User_sync_ins" AFTER INSERT ON "User" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "User_sync_upd" AFTER UPDATE ON "User" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
CREATE TRIGGER "User_sync_del" AFTER DELETE ON "User" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ncy_sync_capture();
