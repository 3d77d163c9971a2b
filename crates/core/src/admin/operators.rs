//! Operators as PostgreSQL roles: provision, list, rotate, revoke.
//!
//! Each operator gets a login role of their own (`ncy_op_<12 hex of the user id>`), mapped to the
//! platform user in "OperatorRole" and a member of one group role per built-in RBAC role
//! (`ncy_admin`, `ncy_manager`, `ncy_employee`, `ncy_system`, `ncy_support`). The grants, Row-Level
//! Security policies and audit triggers of migration 0010 then make the database enforce what the
//! core checks: what the app refuses, psql as that operator refuses too.
//!
//! **Why SECURITY DEFINER functions, not CREATEROLE for operators.** An operator with CREATEROLE
//! could create or alter roles beyond the RBAC matrix (before PostgreSQL 16, any non-superuser
//! role, including granting themselves `ncy_admin`). Instead the schema owner, who has
//! CREATEROLE on every managed PostgreSQL (RDS, Cloud SQL, Azure, Supabase), owns
//! `ncy_operator_provision/rotate/revoke`; they check the caller's `roles.write` from the
//! platform's own tables and can only make `ncy_op_*` login roles that are members of the
//! groups. Role changes follow the user in the same transaction (a trigger on "User" and
//! "UserRoleMap" re-grants the groups; suspension or deletion sets NOLOGIN and ends the role's
//! open connections). Passwords are sent as SCRAM verifiers computed here, so the plain text
//! never reaches the server, its logs or pg_stat_statements.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::resolve_user;
use crate::audit::{record, Entry};
use crate::auth::{perm, scram, Operator};
use crate::db::{Db, PgDb, Tx};
use crate::error::{Error, Result};
use crate::params;

/// An operator's database login, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OperatorLogin {
    pub email: String,
    pub user_id: Uuid,
    pub db_role: String,
    /// Group roles the login is a member of (`ncy_admin`, ...).
    pub groups: Vec<String>,
    /// False while the user is suspended or deleted (NOLOGIN).
    pub can_login: bool,
    /// Open connections of this role now.
    pub connections: i64,
    pub created_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
}

/// The result of provisioning or rotating: the password only when it was generated here
/// (shown once; never stored).
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Provisioned {
    pub email: String,
    pub user_id: Uuid,
    pub db_role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioned")
            .field("email", &self.email)
            .field("db_role", &self.db_role)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The login role name for a user.
pub fn role_name(user_id: Uuid) -> String {
    format!("ncy_op_{}", &user_id.simple().to_string()[..12])
}

/// The PostgreSQL store: operators are its login roles.
fn require_pg(db: &Db) -> Result<&PgDb> {
    db.pg().ok_or_else(|| {
        Error::invalid(
            "store",
            "operators are PostgreSQL login roles; a local workspace has none",
        )
    })
}

fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if !(12..=200).contains(&n) {
        return Err(Error::invalid(
            "password",
            "an operator's database password has 12 to 200 characters (leave it out to have one generated)",
        ));
    }
    Ok(())
}

async fn email_of(tx: &mut Tx, user_id: Uuid) -> Result<String> {
    tx.query_one_as(
        r#"SELECT "email" FROM "User" WHERE "id" = $1"#,
        &params![user_id],
    )
    .await
}

/// Creates the login role of the platform user `user` (id or email). Needs `roles.write`.
pub async fn provision(
    db: &Db,
    op: &Operator,
    user: &str,
    password: Option<&str>,
) -> Result<Provisioned> {
    op.require(perm::ROLES_WRITE)?;
    let db = require_pg(db)?;
    if let Some(p) = password {
        check_password(p)?;
    }
    let mut tx = db.begin().await?;
    let user_id = resolve_user(&mut tx, user).await?;
    let (email, deleted_at): (String, Option<chrono::NaiveDateTime>) = tx
        .query_one_as(
            r#"SELECT "email", "deleted_at" FROM "User" WHERE "id" = $1"#,
            &params![user_id],
        )
        .await?;
    if deleted_at.is_some() {
        return Err(Error::conflict(
            "user",
            format!("{email} is deleted; restore the user first"),
        ));
    }
    let generated = password.is_none().then(scram::generate_password);
    let secret = password.map(str::to_owned).or_else(|| generated.clone());
    let verifier = scram::verifier(secret.as_deref().unwrap_or_default());
    let db_role = role_name(user_id);
    tx.query(
        "SELECT ncy_operator_provision($1, $2, $3)",
        &params![user_id, db_role.as_str(), verifier.as_str()],
    )
    .await
    .map_err(|e| match e {
        Error::Conflict { field, .. } if field.contains("db_role") => Error::conflict(
            "db_role",
            format!("the database role {db_role} already exists on this server (another database of the cluster?); drop it there or revoke it first"),
        ),
        Error::Conflict { field, .. } if field.contains("user_id") => Error::conflict(
            "user",
            format!("{email} already has an operator role; use `operators rotate` for a new password"),
        ),
        e => e,
    })?;
    record(
        &mut tx,
        op,
        Entry {
            action: "OPERATOR_PROVISION",
            table: "OperatorRole",
            target_id: Some(user_id),
            old: None,
            new: Some(serde_json::json!({ "email": email, "db_role": db_role })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Provisioned {
        email,
        user_id,
        db_role,
        password: generated,
    })
}

/// Replaces the password of `user`'s login role. Needs `roles.write`.
pub async fn rotate(
    db: &Db,
    op: &Operator,
    user: &str,
    password: Option<&str>,
) -> Result<Provisioned> {
    op.require(perm::ROLES_WRITE)?;
    let db = require_pg(db)?;
    if let Some(p) = password {
        check_password(p)?;
    }
    let mut tx = db.begin().await?;
    let user_id = resolve_user(&mut tx, user).await?;
    let email = email_of(&mut tx, user_id).await?;
    let generated = password.is_none().then(scram::generate_password);
    let secret = password.map(str::to_owned).or_else(|| generated.clone());
    let verifier = scram::verifier(secret.as_deref().unwrap_or_default());
    let db_role: String = tx
        .query_one_as(
            "SELECT ncy_operator_rotate($1, $2) AS r",
            &params![user_id, verifier.as_str()],
        )
        .await
        .map_err(|e| no_operator(e, &email))?;
    record(
        &mut tx,
        op,
        Entry {
            action: "OPERATOR_ROTATE",
            table: "OperatorRole",
            target_id: Some(user_id),
            old: None,
            new: Some(serde_json::json!({ "db_role": db_role, "password": "[redacted]" })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Provisioned {
        email,
        user_id,
        db_role,
        password: generated,
    })
}

/// Drops `user`'s login role and ends its connections. Needs `roles.write`.
pub async fn revoke(db: &Db, op: &Operator, user: &str) -> Result<OperatorLogin> {
    op.require(perm::ROLES_WRITE)?;
    let db = require_pg(db)?;
    let mut tx = db.begin().await?;
    let user_id = resolve_user(&mut tx, user).await?;
    let email = email_of(&mut tx, user_id).await?;
    let before = list_in(&mut tx, Some(user_id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("operator role of", &email))?;
    tx.query("SELECT ncy_operator_revoke($1)", &params![user_id])
        .await
        .map_err(|e| no_operator(e, &email))?;
    record(
        &mut tx,
        op,
        Entry {
            action: "OPERATOR_REVOKE",
            table: "OperatorRole",
            target_id: Some(user_id),
            old: Some(serde_json::json!({ "email": email, "db_role": before.db_role })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(before)
}

fn no_operator(e: Error, email: &str) -> Error {
    if e.to_string().contains("has no operator role") {
        Error::not_found("operator role of", email)
    } else {
        e
    }
}

/// Every operator login of this database. Needs `roles.read`.
pub async fn list(db: &Db, op: &Operator) -> Result<Vec<OperatorLogin>> {
    op.require(perm::ROLES_READ)?;
    let db = require_pg(db)?;
    let mut tx = db.begin_read().await?;
    let out = list_in(&mut tx, None).await?;
    tx.rollback().await?;
    Ok(out)
}

async fn list_in(tx: &mut Tx, only: Option<Uuid>) -> Result<Vec<OperatorLogin>> {
    tx.query_as(
            r#"SELECT o."db_role", o."user_id", u."email", o."created_at", o."rotated_at",
                      coalesce(r.rolcanlogin, false) AS can_login,
                      coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname)
                                FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid
                                WHERE am.member = r.oid), '{}') AS groups,
                      (SELECT count(*) FROM pg_stat_activity s WHERE s.usename = o."db_role") AS connections
               FROM "OperatorRole" o
               JOIN "User" u ON u."id" = o."user_id"
               LEFT JOIN pg_roles r ON r.rolname = o."db_role"
               WHERE $1::uuid IS NULL OR o."user_id" = $1
               ORDER BY u."email""#,
            &params![only],
        )
        .await
}
