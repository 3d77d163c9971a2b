//! Extra RBAC roles of a user (UserRoleMap): granted and revoked with `roles.write`, audited.

use uuid::Uuid;

use super::super::resolve_user;
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::params;

async fn role_id(tx: &mut Tx, role: &str) -> Result<Uuid> {
    tx.query_opt_as(
        r#"SELECT "id" FROM "Role" WHERE "name" = $1"#,
        &params![role.trim().to_uppercase()],
    )
    .await?
    .ok_or_else(|| {
        Error::invalid(
            "role",
            format!("no role named {role:?} (built-in: ADMIN, MANAGER, EMPLOYEE, SYSTEM, SUPPORT)"),
        )
    })
}

/// Grants a role (UserRoleMap, granted_by = operator).
pub async fn grant_role(db: &Db, op: &Operator, id_or_email: &str, role: &str) -> Result<()> {
    op.require(perm::ROLES_WRITE)?;
    let mut tx = db.begin().await?;
    let uid = resolve_user(&mut tx, id_or_email).await?;
    let rid = role_id(&mut tx, role).await?;
    // PostgreSQL: the checked entry point (operator roles may not write the table, 0022).
    let n = if tx.dialect() == crate::db::Dialect::Postgres {
        let granted: bool = tx
            .query_one_as(
                "SELECT ncy_grant_role($1, $2, $3) AS changed",
                &params![uid, rid, op.user_id],
            )
            .await?;
        u64::from(granted)
    } else {
        tx.execute(
            r#"INSERT INTO "UserRoleMap" ("user_id", "role_id", "granted_at", "granted_by") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"#,
            &params![uid, rid, now(), op.user_id],
        )
        .await?
    };
    if n == 0 {
        return Err(Error::conflict(
            "role",
            format!("the user already has the role {}", role.to_uppercase()),
        ));
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "ROLE_GRANT",
            table: "UserRoleMap",
            target_id: Some(uid),
            old: None,
            new: Some(serde_json::json!({ "role": role.to_uppercase() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a granted role.
pub async fn revoke_role(db: &Db, op: &Operator, id_or_email: &str, role: &str) -> Result<()> {
    op.require(perm::ROLES_WRITE)?;
    let mut tx = db.begin().await?;
    let uid = resolve_user(&mut tx, id_or_email).await?;
    let rid = role_id(&mut tx, role).await?;
    let n = if tx.dialect() == crate::db::Dialect::Postgres {
        let revoked: bool = tx
            .query_one_as(
                "SELECT ncy_revoke_role($1, $2) AS changed",
                &params![uid, rid],
            )
            .await?;
        u64::from(revoked)
    } else {
        tx.execute(
            r#"DELETE FROM "UserRoleMap" WHERE "user_id" = $1 AND "role_id" = $2"#,
            &params![uid, rid],
        )
        .await?
    };
    if n == 0 {
        return Err(Error::conflict(
            "role",
            format!("the user does not have the role {}", role.to_uppercase()),
        ));
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "ROLE_REVOKE",
            table: "UserRoleMap",
            target_id: Some(uid),
            old: Some(serde_json::json!({ "role": role.to_uppercase() })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
