DROP TABLE "LoginAttempt";
DELETE FROM "Role" WHERE "name" IN ('ADMIN', 'MANAGER', 'EMPLOYEE', 'SYSTEM', 'SUPPORT');
DELETE FROM "Permission" WHERE "key" IN ('users.read', 'users.write', 'users.credentials', 'roles.read', 'roles.write', 'orgs.read', 'orgs.write', 'teams.read', 'teams.write', 'projects.read', 'projects.write', 'tasks.read', 'tasks.write', 'tasks.read_own', 'tasks.review_own', 'audit.read', 'logs.read', 'backups.read', 'backups.run', 'backups.restore', 'gdpr.read', 'gdpr.handle', 'health.read', 'health.configure', 'sync.run', 'settings.write');
