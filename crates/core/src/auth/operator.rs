//! The operator context every core call receives: who acts, from which client, with which
//! permissions (the union of the built-in role named by `User.role` and every role granted in
//! UserRoleMap, as stored in Role / RolePermission).

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use serde::Serialize;
use uuid::Uuid;

use crate::db::Tx;
use crate::error::{Error, Result};
use crate::model::{UserRole, UserStatus};
use crate::params;

/// Which adapter the operator uses (recorded in AuditLog.user_agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Cli,
    Desktop,
    System,
}

impl Client {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Client::Cli => "cli",
            Client::Desktop => "desktop",
            Client::System => "system",
        }
    }
}

/// An authenticated operator.
#[derive(Debug, Clone, Serialize)]
pub struct Operator {
    pub user_id: Uuid,
    pub email: String,
    pub role: UserRole,
    pub roles: Vec<String>,
    pub permissions: BTreeSet<String>,
    pub client: Client,
    pub session_id: Option<Uuid>,
}

impl Operator {
    /// Fails with [`Error::Forbidden`] naming `permission` unless the operator has it.
    pub fn require(&self, permission: &str) -> Result<()> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                permission: permission.to_owned(),
            })
        }
    }

    /// True when the operator has `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// True for a global role (ADMIN or SYSTEM, built-in or granted): power in every
    /// organization, as the database's `ncy_is_global()` has it.
    pub fn is_global(&self) -> bool {
        self.roles.iter().any(|r| r == "ADMIN" || r == "SYSTEM")
    }

    /// `ncy-admin/<version> (cli|desktop|system)`.
    pub fn user_agent(&self) -> String {
        user_agent(self.client)
    }

    /// Loads an operator by user id inside `tx`, refusing disabled or deleted accounts.
    pub async fn load(
        tx: &mut Tx,
        user_id: Uuid,
        client: Client,
        session_id: Option<Uuid>,
    ) -> Result<Operator> {
        let (email, role, status, deleted_at): (String, UserRole, UserStatus, Option<NaiveDateTime>) = tx
            .query_opt_as(
                r#"SELECT "email", "role"::text AS role, "status"::text AS status, "deleted_at" FROM "User" WHERE "id" = $1"#,
                &params![user_id],
            )
            .await?
            .ok_or_else(|| Error::Unauthenticated("the operator's account no longer exists".into()))?;
        if deleted_at.is_some() {
            return Err(Error::AccountDisabled("deleted".into()));
        }
        if matches!(status, UserStatus::INACTIVE | UserStatus::SUSPENDED) {
            return Err(Error::AccountDisabled(status.as_str().to_ascii_lowercase()));
        }
        let rows: Vec<(String, Option<String>)> = tx
            .query_as(
                r#"SELECT DISTINCT r."name" AS role, p."key" AS perm
                   FROM "Role" r
                   LEFT JOIN "RolePermission" rp ON rp."role_id" = r."id"
                   LEFT JOIN "Permission" p ON p."id" = rp."permission_id"
                   WHERE r."name" = $2
                      OR r."id" IN (SELECT "role_id" FROM "UserRoleMap" WHERE "user_id" = $1)"#,
                &params![user_id, role.as_str()],
            )
            .await?;
        let mut roles = BTreeSet::new();
        let mut permissions = BTreeSet::new();
        for (role, perm) in rows {
            roles.insert(role);
            permissions.extend(perm);
        }
        Ok(Operator {
            user_id,
            email,
            role,
            roles: roles.into_iter().collect(),
            permissions,
            client,
            session_id,
        })
    }
}

/// The user agent string recorded for a client.
pub fn user_agent(client: Client) -> String {
    format!(
        "ncy-admin/{} ({})",
        env!("CARGO_PKG_VERSION"),
        client.as_str()
    )
}
