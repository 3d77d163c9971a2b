//! Users: keyset listing with filters (the platform's `findUsersByOrganization`, done right),
//! show, create, edit, suspend/reactivate, soft delete/restore, password reset, sessions,
//! API keys and role grants. Every change is audited in its transaction.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate::email as valid_email;
use super::{like_pattern, limit, page_of as page, resolve_user, snapshot, Cursor, Page, Where};
use crate::audit::{self, Entry};
use crate::auth::password::{generate_password, hash_password, validate_new_password};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Dialect, Tx};
use crate::error::{Error, Result};
use crate::model::{UserRole, UserStatus};
use crate::params;

mod credentials;
mod roles;

pub use credentials::{
    api_keys, create_api_key, revoke_api_key, revoke_session, sessions, ApiKeyInfo, NewApiKey,
    SessionInfo,
};
pub use roles::{grant_role, revoke_role};

/// A user as administrators see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub role: UserRole,
    pub status: UserStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    /// The stored hash is legacy bcrypt; it becomes argon2id at the next login.
    pub password_upgrade_pending: bool,
}

/// The listed columns. Whether the hash is legacy bcrypt comes from the hash on SQLite and from
/// a definer function on PostgreSQL, where no operator role may read the column.
fn cols(d: Dialect) -> String {
    let legacy = match d {
        Dialect::Postgres => r#"ncy_password_is_legacy(u."id")"#,
        Dialect::Sqlite => r#"(u."password_hash" LIKE '$2%')"#,
    };
    format!(
        r#"u."id", u."email", u."role"::text AS role, u."status"::text AS status, u."created_at",
    u."updated_at", u."deleted_at", {legacy} AS password_upgrade_pending"#
    )
}

impl User {
    fn audit_view(&self) -> serde_json::Value {
        let mut v = snapshot(self);
        if let Some(m) = v.as_object_mut() {
            m.remove("updated_at");
            m.remove("password_upgrade_pending");
        }
        v
    }
}

/// List filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct UserFilter {
    pub status: Option<UserStatus>,
    pub role: Option<UserRole>,
    /// Organization slug: only its (non-removed) members.
    pub org: Option<String>,
    /// Substring of the email (case-insensitive).
    pub search: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
    #[serde(default)]
    pub deleted_only: bool,
}

async fn load(tx: &mut Tx, id: Uuid) -> Result<User> {
    tx.query_opt_as(
        &format!(
            r#"SELECT {} FROM "User" u WHERE u."id" = $1"#,
            cols(tx.dialect())
        ),
        &params![id],
    )
    .await?
    .ok_or_else(|| Error::not_found("user", id))
}

/// Lists users, newest first, with keyset paging on `(created_at, id)`.
pub async fn list(
    db: &Db,
    op: &Operator,
    f: &UserFilter,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<User>> {
    op.require(perm::USERS_READ)?;
    let lim = limit(lim)?;
    let mut w = Where::default();
    if f.deleted_only {
        w.clauses.push(r#"u."deleted_at" IS NOT NULL"#.into());
    } else if !f.include_deleted {
        w.clauses.push(r#"u."deleted_at" IS NULL"#.into());
    }
    if let Some(s) = f.status {
        w.push(|p| format!(r#"u."status" = {p}::"UserStatus""#), s);
    }
    if let Some(r) = f.role {
        w.push(|p| format!(r#"u."role" = {p}::"UserRole""#), r);
    }
    if let Some(slug) = f.org.as_deref() {
        w.push(
            |p| {
                format!(
                    r#"EXISTS (SELECT 1 FROM "OrganizationMember" m JOIN "Organization" o ON o."id" = m."organization_id"
                       WHERE m."user_id" = u."id" AND m."deleted_at" IS NULL AND o."slug" = {p})"#
                )
            },
            slug.trim(),
        );
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        w.push(
            |p| format!(r#"u."email" ILIKE {p} ESCAPE '\'"#),
            like_pattern(&s.trim().to_lowercase()),
        );
    }
    if let Some(c) = after {
        w.before(r#"u."created_at""#, r#"u."id""#, &Cursor::decode(c)?);
    }
    let sql = format!(
        r#"SELECT {} FROM "User" u {} ORDER BY u."created_at" DESC, u."id" DESC LIMIT {}"#,
        cols(db.dialect()),
        w.sql(),
        lim + 1
    );
    let mut tx = db.begin_read().await?;
    if let Some(slug) = f.org.as_deref() {
        // Not found unless the operator may see it, as the row policy hides it.
        crate::admin::orgs::resolve(&mut tx, op, slug).await?;
    }
    let items: Vec<User> = tx.query_as(&sql, &w.params).await?;
    tx.rollback().await?;
    Ok(page(items, lim, |u| Cursor {
        ts: u.created_at,
        id: u.id,
    }))
}

/// A user with what the detail view shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct UserDetail {
    pub user: User,
    pub roles: Vec<String>,
    pub organizations: Vec<Membership>,
}

/// One organization membership of a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Membership {
    pub organization_id: Uuid,
    pub slug: String,
    pub name: String,
    pub role: String,
}

/// Shows one user (by id or email).
pub async fn get(db: &Db, op: &Operator, id_or_email: &str) -> Result<UserDetail> {
    op.require(perm::USERS_READ)?;
    let mut tx = db.begin_read().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let user = load(&mut tx, id).await?;
    let roles = tx
        .query_as(
            r#"SELECT r."name" FROM "UserRoleMap" m JOIN "Role" r ON r."id" = m."role_id" WHERE m."user_id" = $1 ORDER BY r."name""#,
            &params![id],
        )
        .await?;
    // The memberships in organizations the operator may see.
    let mut w = Where::default();
    w.push(|p| format!(r#"m."user_id" = {p}"#), id);
    w.clauses.push(r#"m."deleted_at" IS NULL"#.into());
    crate::admin::orgs::power::scope_orgs(op, &mut w);
    let organizations = tx
        .query_as(
            &format!(
                r#"SELECT o."id" AS organization_id, o."slug", o."name", m."role"::text AS role
                   FROM "OrganizationMember" m JOIN "Organization" o ON o."id" = m."organization_id"
                   {} ORDER BY o."name""#,
                w.sql()
            ),
            &w.params,
        )
        .await?;
    tx.rollback().await?;
    Ok(UserDetail {
        user,
        roles,
        organizations,
    })
}

/// A new user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct NewUser {
    pub email: String,
    pub role: Option<UserRole>,
    pub status: Option<UserStatus>,
    /// When absent a strong temporary password is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

/// A created user and, when generated, the temporary password (shown once, never stored).
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Created {
    pub user: User,
    pub temporary_password: Option<String>,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("user", &self.user)
            .field("temporary_password", &"[redacted]")
            .finish()
    }
}

async fn email_taken(tx: &mut Tx, email: &str, except: Option<Uuid>) -> Result<bool> {
    let found: Option<Uuid> = tx
        .query_opt_as(
            r#"SELECT "id" FROM "User" WHERE lower("email") = $1"#,
            &params![email],
        )
        .await?;
    Ok(found.is_some_and(|id| Some(id) != except))
}

fn check_role_change(op: &Operator, role: UserRole) -> Result<()> {
    if role == UserRole::ADMIN || role == UserRole::SYSTEM {
        op.require(perm::ROLES_WRITE)?;
    }
    Ok(())
}

/// Creates a user with an argon2id password.
pub async fn create(db: &Db, op: &Operator, n: &NewUser) -> Result<Created> {
    op.require(perm::USERS_WRITE)?;
    let email = valid_email(&n.email)?;
    let role = n.role.unwrap_or(UserRole::EMPLOYEE);
    check_role_change(op, role)?;
    let (password, temporary) = match &n.password {
        Some(p) => {
            validate_new_password(p)?;
            (p.clone(), None)
        }
        None => {
            let p = generate_password();
            (p.clone(), Some(p))
        }
    };
    let hash = hash_password(&password)?;
    let mut tx = db.begin().await?;
    if email_taken(&mut tx, &email, None).await? {
        return Err(Error::conflict(
            "email",
            format!("a user with email {email} already exists"),
        ));
    }
    let t0 = now();
    let user = User {
        id: Uuid::new_v4(),
        email,
        role,
        status: n.status.unwrap_or(UserStatus::ACTIVE),
        created_at: t0,
        updated_at: t0,
        deleted_at: None,
        password_upgrade_pending: false,
    };
    tx.execute(
        r#"INSERT INTO "User" ("id", "email", "password_hash", "role", "status", "created_at", "updated_at")
           VALUES ($1, $2, $3, $4::"UserRole", $5::"UserStatus", $6, $6)"#,
        &params![user.id, user.email.as_str(), hash, user.role, user.status, t0],
    )
    .await?;
    let mut new = user.audit_view();
    if let Some(m) = new.as_object_mut() {
        m.insert("password_hash".into(), serde_json::json!("[redacted]"));
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "USER_CREATE",
            table: "User",
            target_id: Some(user.id),
            old: None,
            new: Some(new),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Created {
        user,
        temporary_password: temporary,
    })
}

/// Changes to a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct UserPatch {
    pub email: Option<String>,
    pub role: Option<UserRole>,
    pub status: Option<UserStatus>,
}

async fn change(
    db: &Db,
    op: &Operator,
    id_or_email: &str,
    action: &str,
    f: impl FnOnce(&mut User) -> Result<()>,
) -> Result<User> {
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let old = load(&mut tx, id).await?;
    let mut new = old.clone();
    f(&mut new)?;
    if new.email != old.email && email_taken(&mut tx, &new.email, Some(id)).await? {
        return Err(Error::conflict(
            "email",
            format!("a user with email {} already exists", new.email),
        ));
    }
    if new == old {
        tx.rollback().await?;
        return Ok(old);
    }
    new.updated_at = now();
    tx.execute(
        r#"UPDATE "User" SET "email" = $2, "role" = $3::"UserRole", "status" = $4::"UserStatus", "updated_at" = $5, "deleted_at" = $6 WHERE "id" = $1"#,
        &params![id, new.email.as_str(), new.role, new.status, new.updated_at, new.deleted_at],
    )
    .await?;
    audit::record_change(
        &mut tx,
        op,
        action,
        "User",
        id,
        &old.audit_view(),
        &new.audit_view(),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

fn not_self(op: &Operator, u: &User, what: &str) -> Result<()> {
    if u.id == op.user_id {
        return Err(Error::invalid(
            "user",
            format!("you cannot {what} your own account; ask another administrator"),
        ));
    }
    Ok(())
}

/// Edits email, role and/or status.
pub async fn update(db: &Db, op: &Operator, id_or_email: &str, p: &UserPatch) -> Result<User> {
    op.require(perm::USERS_WRITE)?;
    if p.email.is_none() && p.role.is_none() && p.status.is_none() {
        return Err(Error::invalid(
            "changes",
            "nothing to change: give a new email, role or status",
        ));
    }
    let email = p.email.as_deref().map(valid_email).transpose()?;
    if let Some(r) = p.role {
        check_role_change(op, r)?;
    }
    change(db, op, id_or_email, "USER_UPDATE", |u| {
        if let Some(e) = email {
            u.email = e;
        }
        if let Some(r) = p.role {
            if r != u.role {
                not_self(op, u, "change the role of")?;
            }
            u.role = r;
        }
        if let Some(s) = p.status {
            if s != u.status && s != UserStatus::ACTIVE {
                not_self(op, u, "deactivate")?;
            }
            u.status = s;
        }
        Ok(())
    })
    .await
}

/// Suspends a user; their sessions stop working at once (logins and session checks refuse
/// suspended accounts).
pub async fn suspend(db: &Db, op: &Operator, id_or_email: &str) -> Result<User> {
    op.require(perm::USERS_WRITE)?;
    let u = change(db, op, id_or_email, "USER_SUSPEND", |u| {
        not_self(op, u, "suspend")?;
        if u.status == UserStatus::SUSPENDED {
            return Err(Error::conflict("status", "the user is already suspended"));
        }
        u.status = UserStatus::SUSPENDED;
        Ok(())
    })
    .await?;
    Ok(u)
}

/// Reactivates a suspended or inactive user.
pub async fn reactivate(db: &Db, op: &Operator, id_or_email: &str) -> Result<User> {
    op.require(perm::USERS_WRITE)?;
    change(db, op, id_or_email, "USER_REACTIVATE", |u| {
        if u.status == UserStatus::ACTIVE {
            return Err(Error::conflict("status", "the user is already active"));
        }
        u.status = UserStatus::ACTIVE;
        Ok(())
    })
    .await
}

/// Soft-deletes a user.
pub async fn delete(db: &Db, op: &Operator, id_or_email: &str) -> Result<User> {
    op.require(perm::USERS_WRITE)?;
    change(db, op, id_or_email, "USER_DELETE", |u| {
        not_self(op, u, "delete")?;
        if u.deleted_at.is_some() {
            return Err(Error::conflict("user", "the user is already deleted"));
        }
        u.deleted_at = Some(now());
        Ok(())
    })
    .await
}

/// Restores a soft-deleted user.
pub async fn restore(db: &Db, op: &Operator, id_or_email: &str) -> Result<User> {
    op.require(perm::USERS_WRITE)?;
    change(db, op, id_or_email, "USER_RESTORE", |u| {
        if u.deleted_at.is_none() {
            return Err(Error::conflict("user", "the user is not deleted"));
        }
        u.deleted_at = None;
        Ok(())
    })
    .await
}

/// Sets a strong temporary password (returned once), ending the user's sessions.
pub async fn reset_password(db: &Db, op: &Operator, id_or_email: &str) -> Result<String> {
    op.require(perm::USERS_CREDENTIALS)?;
    let password = generate_password();
    let hash = hash_password(&password)?;
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let u = load(&mut tx, id).await?;
    if u.deleted_at.is_some() {
        return Err(Error::invalid("user", "is deleted; restore it first"));
    }
    // On PostgreSQL through the definer function that checks `users.credentials` (no operator
    // role may write the column itself).
    if tx.dialect() == crate::db::Dialect::Postgres {
        tx.query("SELECT ncy_set_password($1, $2)", &params![id, hash])
            .await?;
    } else {
        tx.execute(
            r#"UPDATE "User" SET "password_hash" = $2, "updated_at" = $3 WHERE "id" = $1"#,
            &params![id, hash, now()],
        )
        .await?;
    }
    let ended = tx
        .execute(
            r#"DELETE FROM "Session" WHERE "user_id" = $1"#,
            &params![id],
        )
        .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "USER_RESET_PASSWORD",
            table: "User",
            target_id: Some(id),
            old: Some(serde_json::json!({ "password_hash": "[redacted]" })),
            new: Some(
                serde_json::json!({ "password_hash": "[redacted]", "sessions_ended": ended }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(password)
}
