//! Permissions and built-in roles. The migrations seed the same data into Role / Permission /
//! RolePermission; a test keeps the two in step.

/// Every permission key the core checks.
pub mod perm {
    pub const USERS_READ: &str = "users.read";
    pub const USERS_WRITE: &str = "users.write";
    pub const USERS_CREDENTIALS: &str = "users.credentials";
    pub const ROLES_READ: &str = "roles.read";
    pub const ROLES_WRITE: &str = "roles.write";
    pub const ORGS_READ: &str = "orgs.read";
    pub const ORGS_WRITE: &str = "orgs.write";
    pub const TEAMS_READ: &str = "teams.read";
    pub const TEAMS_WRITE: &str = "teams.write";
    pub const PROJECTS_READ: &str = "projects.read";
    pub const PROJECTS_WRITE: &str = "projects.write";
    pub const TASKS_READ: &str = "tasks.read";
    pub const TASKS_WRITE: &str = "tasks.write";
    pub const TASKS_READ_OWN: &str = "tasks.read_own";
    pub const TASKS_REVIEW_OWN: &str = "tasks.review_own";
    pub const AUDIT_READ: &str = "audit.read";
    pub const LOGS_READ: &str = "logs.read";
    pub const BACKUPS_READ: &str = "backups.read";
    pub const BACKUPS_RUN: &str = "backups.run";
    pub const BACKUPS_RESTORE: &str = "backups.restore";
    pub const GDPR_READ: &str = "gdpr.read";
    pub const GDPR_HANDLE: &str = "gdpr.handle";
    pub const HEALTH_READ: &str = "health.read";
    pub const HEALTH_CONFIGURE: &str = "health.configure";
    pub const SYNC_RUN: &str = "sync.run";
    pub const SETTINGS_WRITE: &str = "settings.write";

    /// All permission keys.
    pub const ALL: &[&str] = &[
        USERS_READ,
        USERS_WRITE,
        USERS_CREDENTIALS,
        ROLES_READ,
        ROLES_WRITE,
        ORGS_READ,
        ORGS_WRITE,
        TEAMS_READ,
        TEAMS_WRITE,
        PROJECTS_READ,
        PROJECTS_WRITE,
        TASKS_READ,
        TASKS_WRITE,
        TASKS_READ_OWN,
        TASKS_REVIEW_OWN,
        AUDIT_READ,
        LOGS_READ,
        BACKUPS_READ,
        BACKUPS_RUN,
        BACKUPS_RESTORE,
        GDPR_READ,
        GDPR_HANDLE,
        HEALTH_READ,
        HEALTH_CONFIGURE,
        SYNC_RUN,
        SETTINGS_WRITE,
    ];
}

/// Built-in role names: one per `UserRole` value, plus SUPPORT for GDPR staff.
pub const BUILTIN_ROLES: &[&str] = &["ADMIN", "MANAGER", "EMPLOYEE", "SYSTEM", "SUPPORT"];

/// The permissions a built-in role carries (as seeded by migration 0005).
pub fn builtin_permissions(role: &str) -> Vec<&'static str> {
    use perm::*;
    match role {
        "ADMIN" => ALL.to_vec(),
        "MANAGER" => vec![
            USERS_READ,
            ORGS_READ,
            ORGS_WRITE,
            TEAMS_READ,
            TEAMS_WRITE,
            PROJECTS_READ,
            PROJECTS_WRITE,
            TASKS_READ,
            TASKS_WRITE,
            TASKS_READ_OWN,
            TASKS_REVIEW_OWN,
            SYNC_RUN,
        ],
        "EMPLOYEE" => vec![PROJECTS_READ, TASKS_READ_OWN, TASKS_REVIEW_OWN, SYNC_RUN],
        "SYSTEM" => vec![
            USERS_READ,
            ORGS_READ,
            TEAMS_READ,
            PROJECTS_READ,
            TASKS_READ,
            AUDIT_READ,
            LOGS_READ,
            BACKUPS_READ,
            BACKUPS_RUN,
            GDPR_READ,
            GDPR_HANDLE,
            HEALTH_READ,
            SYNC_RUN,
        ],
        "SUPPORT" => vec![USERS_READ, GDPR_READ, GDPR_HANDLE],
        _ => vec![],
    }
}
