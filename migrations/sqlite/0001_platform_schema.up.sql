-- NCY_8 platform schema, exactly as the platform's database strategy defines it:
-- enums, identity, RBAC, organizations, business entities, audit and logging tables,
-- and every index of its Indexing Strategy (partial ones included).

CREATE TABLE "User" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "email" TEXT UNIQUE NOT NULL CHECK (length("email") <= 255),
  "password_hash" TEXT NOT NULL CHECK (length("password_hash") <= 255),
  "role" TEXT NOT NULL DEFAULT 'EMPLOYEE' CHECK ("role" IN ('ADMIN', 'MANAGER', 'EMPLOYEE', 'SYSTEM')),
  "status" TEXT NOT NULL DEFAULT 'ACTIVE' CHECK ("status" IN ('ACTIVE', 'INACTIVE', 'SUSPENDED', 'PENDING')),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);

CREATE TABLE "Session" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "refresh_token" TEXT NOT NULL CHECK (length("refresh_token") <= 255),
  "ip_address" TEXT,
  "user_agent" TEXT,
  "expires_at" TEXT NOT NULL,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "ApiKey" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "key_hash" TEXT NOT NULL CHECK (length("key_hash") <= 255),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "scopes" TEXT NOT NULL DEFAULT '[]' CHECK (json_valid("scopes") AND json_type("scopes") = 'array'),
  "last_used_at" TEXT,
  "expires_at" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "Role" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "name" TEXT UNIQUE NOT NULL CHECK (length("name") <= 100),
  "description" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "Permission" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "key" TEXT UNIQUE NOT NULL CHECK (length("key") <= 100),
  "description" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "RolePermission" (
  "role_id" TEXT NOT NULL REFERENCES "Role"("id") ON DELETE CASCADE,
  "permission_id" TEXT NOT NULL REFERENCES "Permission"("id") ON DELETE CASCADE,
  PRIMARY KEY ("role_id", "permission_id")
);

CREATE TABLE "UserRoleMap" (
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "role_id" TEXT NOT NULL REFERENCES "Role"("id") ON DELETE CASCADE,
  "granted_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "granted_by" TEXT REFERENCES "User"("id"),
  PRIMARY KEY ("user_id", "role_id")
);

CREATE TABLE "Organization" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "name" TEXT NOT NULL CHECK (length("name") <= 255),
  "slug" TEXT UNIQUE NOT NULL CHECK (length("slug") <= 100),
  "owner_id" TEXT NOT NULL REFERENCES "User"("id"),
  "settings" TEXT DEFAULT '{}' CHECK (json_valid("settings")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);

CREATE TABLE "OrganizationMember" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "organization_id" TEXT NOT NULL REFERENCES "Organization"("id") ON DELETE CASCADE,
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "role" TEXT NOT NULL DEFAULT 'MEMBER' CHECK ("role" IN ('OWNER', 'ADMIN', 'MANAGER', 'MEMBER')),
  "joined_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT,
  UNIQUE ("organization_id", "user_id")
);

CREATE TABLE "Team" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "organization_id" TEXT NOT NULL REFERENCES "Organization"("id") ON DELETE CASCADE,
  "name" TEXT NOT NULL CHECK (length("name") <= 255),
  "description" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);

CREATE TABLE "TeamMember" (
  "team_id" TEXT NOT NULL REFERENCES "Team"("id") ON DELETE CASCADE,
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "joined_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT,
  PRIMARY KEY ("team_id", "user_id")
);

CREATE TABLE "Project" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "organization_id" TEXT NOT NULL REFERENCES "Organization"("id") ON DELETE CASCADE,
  "name" TEXT NOT NULL CHECK (length("name") <= 255),
  "description" TEXT,
  "status" TEXT NOT NULL DEFAULT 'ACTIVE' CHECK ("status" IN ('ACTIVE', 'INACTIVE', 'ARCHIVED')),
  "settings" TEXT DEFAULT '{}' CHECK (json_valid("settings")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);

CREATE TABLE "Task" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "project_id" TEXT NOT NULL REFERENCES "Project"("id") ON DELETE CASCADE,
  "assignee_id" TEXT REFERENCES "User"("id"),
  "title" TEXT NOT NULL CHECK (length("title") <= 255),
  "description" TEXT,
  "status" TEXT NOT NULL DEFAULT 'TODO' CHECK ("status" IN ('TODO', 'IN_PROGRESS', 'REVIEW', 'DONE', 'CANCELLED')),
  "priority" TEXT NOT NULL DEFAULT 'MEDIUM' CHECK ("priority" IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
  "due_date" TEXT,
  "metadata" TEXT DEFAULT '{}' CHECK (json_valid("metadata")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);

CREATE TABLE "AuditLog" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT REFERENCES "User"("id"),
  "action" TEXT NOT NULL CHECK (length("action") <= 100),
  "target_table" TEXT NOT NULL CHECK (length("target_table") <= 100),
  "target_id" TEXT,
  "old_value" TEXT CHECK (json_valid("old_value")),
  "new_value" TEXT CHECK (json_valid("new_value")),
  "ip_address" TEXT,
  "user_agent" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "ErrorLog" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "service" TEXT NOT NULL CHECK (length("service") <= 100),
  "level" TEXT NOT NULL CHECK ("level" IN ('DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL')),
  "message" TEXT NOT NULL,
  "stack" TEXT,
  "context" TEXT DEFAULT '{}' CHECK (json_valid("context")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "AccessLog" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT REFERENCES "User"("id"),
  "method" TEXT NOT NULL CHECK (length("method") <= 10),
  "endpoint" TEXT NOT NULL CHECK (length("endpoint") <= 255),
  "status_code" INTEGER NOT NULL,
  "latency_ms" INTEGER,
  "timestamp" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

-- Indexing Strategy
CREATE INDEX "User_email_idx" ON "User"("email") WHERE "deleted_at" IS NULL;
CREATE INDEX "User_status_idx" ON "User"("status") WHERE "deleted_at" IS NULL;
CREATE INDEX "User_created_at_idx" ON "User"("created_at");
CREATE INDEX "Organization_slug_idx" ON "Organization"("slug") WHERE "deleted_at" IS NULL;
CREATE INDEX "Organization_owner_id_idx" ON "Organization"("owner_id");
CREATE INDEX "Task_project_id_idx" ON "Task"("project_id") WHERE "deleted_at" IS NULL;
CREATE INDEX "Task_assignee_id_idx" ON "Task"("assignee_id") WHERE "deleted_at" IS NULL;
CREATE INDEX "Task_status_idx" ON "Task"("status") WHERE "deleted_at" IS NULL;
CREATE INDEX "Task_due_date_idx" ON "Task"("due_date") WHERE "deleted_at" IS NULL;
CREATE INDEX "AuditLog_user_id_idx" ON "AuditLog"("user_id");
CREATE INDEX "AuditLog_target_table_target_id_idx" ON "AuditLog"("target_table", "target_id");
CREATE INDEX "AuditLog_created_at_idx" ON "AuditLog"("created_at");
CREATE INDEX "Task_project_status_idx" ON "Task"("project_id", "status") WHERE "deleted_at" IS NULL;
CREATE INDEX "OrganizationMember_org_user_idx" ON "OrganizationMember"("organization_id", "user_id") WHERE "deleted_at" IS NULL;
