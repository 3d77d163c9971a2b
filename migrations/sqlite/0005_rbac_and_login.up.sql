-- Built-in roles and permissions (mapped from UserRole, plus SUPPORT for GDPR staff),
-- and the login attempt journal used for lockout.

INSERT INTO "Permission" ("key", "description") VALUES
  ('users.read', 'View users, their sessions, API keys and roles'),
  ('users.write', 'Create and edit users: email, role, status, delete and restore'),
  ('users.credentials', 'Reset passwords, revoke sessions, create and revoke API keys'),
  ('roles.read', 'View roles and permissions'),
  ('roles.write', 'Grant and revoke roles'),
  ('orgs.read', 'View organizations and their members'),
  ('orgs.write', 'Create and edit organizations, members and ownership'),
  ('teams.read', 'View teams'),
  ('teams.write', 'Create, rename and delete teams and their members'),
  ('projects.read', 'View projects'),
  ('projects.write', 'Create, edit and archive projects'),
  ('tasks.read', 'View all tasks'),
  ('tasks.write', 'Create and edit any task, bulk updates'),
  ('tasks.read_own', 'View tasks assigned to oneself'),
  ('tasks.review_own', 'Review tasks assigned to oneself: status and metadata'),
  ('audit.read', 'View and export the audit log'),
  ('logs.read', 'View access and error logs'),
  ('backups.read', 'List backups and PITR readiness'),
  ('backups.run', 'Create, verify and prune backups'),
  ('backups.restore', 'Restore a backup'),
  ('gdpr.read', 'View GDPR requests and consents'),
  ('gdpr.handle', 'Work GDPR requests: verify, export, erase, reject, consents'),
  ('health.read', 'View database health'),
  ('health.configure', 'Change logging settings, cancel queries, terminate sessions'),
  ('sync.run', 'Sync an offline cache with the server'),
  ('settings.write', 'Change global settings')
ON CONFLICT ("key") DO NOTHING;

INSERT INTO "Role" ("name", "description") VALUES
  ('ADMIN', 'Platform administrators: every permission'),
  ('MANAGER', 'Organizations, teams, projects and tasks; read users'),
  ('EMPLOYEE', 'Read and review own tasks'),
  ('SYSTEM', 'Automation: backups, retention, monitoring'),
  ('SUPPORT', 'GDPR staff: read users, handle data-subject requests')
ON CONFLICT ("name") DO NOTHING;

INSERT INTO "RolePermission" ("role_id", "permission_id")
SELECT r."id", p."id" FROM "Role" r CROSS JOIN "Permission" p
WHERE r."name" = 'ADMIN'
ON CONFLICT DO NOTHING;

WITH m(role_name, perm_key) AS (VALUES
  ('MANAGER', 'users.read'),
  ('MANAGER', 'orgs.read'),
  ('MANAGER', 'orgs.write'),
  ('MANAGER', 'teams.read'),
  ('MANAGER', 'teams.write'),
  ('MANAGER', 'projects.read'),
  ('MANAGER', 'projects.write'),
  ('MANAGER', 'tasks.read'),
  ('MANAGER', 'tasks.write'),
  ('MANAGER', 'tasks.read_own'),
  ('MANAGER', 'tasks.review_own'),
  ('MANAGER', 'sync.run'),
  ('EMPLOYEE', 'projects.read'),
  ('EMPLOYEE', 'tasks.read_own'),
  ('EMPLOYEE', 'tasks.review_own'),
  ('EMPLOYEE', 'sync.run'),
  ('SYSTEM', 'users.read'),
  ('SYSTEM', 'orgs.read'),
  ('SYSTEM', 'teams.read'),
  ('SYSTEM', 'projects.read'),
  ('SYSTEM', 'tasks.read'),
  ('SYSTEM', 'audit.read'),
  ('SYSTEM', 'logs.read'),
  ('SYSTEM', 'backups.read'),
  ('SYSTEM', 'backups.run'),
  ('SYSTEM', 'gdpr.read'),
  ('SYSTEM', 'gdpr.handle'),
  ('SYSTEM', 'health.read'),
  ('SYSTEM', 'sync.run'),
  ('SUPPORT', 'users.read'),
  ('SUPPORT', 'gdpr.read'),
  ('SUPPORT', 'gdpr.handle')
)
INSERT INTO "RolePermission" ("role_id", "permission_id")
SELECT r."id", p."id" FROM m
JOIN "Role" r ON r."name" = m.role_name
JOIN "Permission" p ON p."key" = m.perm_key
WHERE true
ON CONFLICT DO NOTHING;

CREATE TABLE "LoginAttempt" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "email" TEXT NOT NULL CHECK (length("email") <= 255),
  "user_id" TEXT REFERENCES "User"("id") ON DELETE CASCADE,
  "success" INTEGER NOT NULL CHECK ("success" IN (0, 1)),
  "reason" TEXT CHECK (length("reason") <= 50),
  "client" TEXT CHECK (length("client") <= 100),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX "LoginAttempt_email_created_at_idx" ON "LoginAttempt"("email", "created_at");
