//! Users: keyset listing with filters (the platform's `findUsersByOrganization`, done right),
//! show, create, edit, suspend/reactivate, soft delete/restore, password reset, sessions,
//! API keys and role grants. Every change is audited in its transaction.

use chrono::NaiveDateTime;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::validate::email as valid_email;
use super::{like_pattern, limit, page_of as page, resolve_user, snapshot, Cursor, Page, Where};
use crate::audit::{self, Entry};
use crate::auth::password::{generate_password, hash_password, validate_new_password};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Dialect, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{UserRole, UserStatus};
use crate::params;

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
    u."updated_at", u."deleted_at", {legacy} AS password_legacy"#
    )
}

impl User {
    fn from_row(r: &Row) -> Result<User> {
        Ok(User {
            id: r.uuid("id")?,
            email: r.text("email")?,
            role: UserRole::parse(&r.text("role")?)?,
            status: UserStatus::parse(&r.text("status")?)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
            deleted_at: r.opt_ts("deleted_at")?,
            password_upgrade_pending: r.bool("password_legacy")?,
        })
    }

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
    let row = tx
        .query_opt(
            &format!(
                r#"SELECT {} FROM "User" u WHERE u."id" = $1"#,
                cols(tx.dialect())
            ),
            &params![id],
        )
        .await?
        .ok_or_else(|| Error::not_found("user", id))?;
    User::from_row(&row)
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
    let mut tx = db.begin().await?;
    if let Some(slug) = f.org.as_deref() {
        if tx
            .query_opt(
                r#"SELECT 1 AS x FROM "Organization" WHERE "slug" = $1"#,
                &params![slug.trim()],
            )
            .await?
            .is_none()
        {
            return Err(Error::not_found("organization", slug));
        }
    }
    let rows = tx.query(&sql, &w.params).await?;
    tx.rollback().await?;
    let items = rows
        .iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>>>()?;
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
#[derive(Debug, Clone, Serialize)]
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
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let user = load(&mut tx, id).await?;
    let roles = tx
        .query(
            r#"SELECT r."name" FROM "UserRoleMap" m JOIN "Role" r ON r."id" = m."role_id" WHERE m."user_id" = $1 ORDER BY r."name""#,
            &params![id],
        )
        .await?
        .iter()
        .map(|r| r.text("name"))
        .collect::<Result<Vec<_>>>()?;
    let organizations = tx
        .query(
            r#"SELECT o."id", o."slug", o."name", m."role"::text AS role FROM "OrganizationMember" m
               JOIN "Organization" o ON o."id" = m."organization_id"
               WHERE m."user_id" = $1 AND m."deleted_at" IS NULL ORDER BY o."name""#,
            &params![id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Membership {
                organization_id: r.uuid("id")?,
                slug: r.text("slug")?,
                name: r.text("name")?,
                role: r.text("role")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
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
    let r = tx
        .query_opt(
            r#"SELECT "id" FROM "User" WHERE lower("email") = $1"#,
            &params![email],
        )
        .await?;
    Ok(match r {
        Some(r) => Some(r.uuid("id")?) != except,
        None => false,
    })
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
            "nothing to change: give --email, --role or --status",
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

/// A session (never its token).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SessionInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub expired: bool,
}

/// A user's sessions, newest first.
pub async fn sessions(db: &Db, op: &Operator, id_or_email: &str) -> Result<Vec<SessionInfo>> {
    op.require(perm::USERS_READ)?;
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let rows = tx
        .query(
            r#"SELECT "id", "user_id", "ip_address", "user_agent", "created_at", "expires_at" FROM "Session"
               WHERE "user_id" = $1 ORDER BY "created_at" DESC, "id" DESC LIMIT 1000"#,
            &params![id],
        )
        .await?;
    tx.rollback().await?;
    let t = now();
    rows.iter()
        .map(|r| {
            let expires_at = r.ts("expires_at")?;
            Ok(SessionInfo {
                id: r.uuid("id")?,
                user_id: r.uuid("user_id")?,
                ip_address: r.opt_text("ip_address")?,
                user_agent: r.opt_text("user_agent")?,
                created_at: r.ts("created_at")?,
                expires_at,
                expired: expires_at <= t,
            })
        })
        .collect()
}

/// Revokes (deletes) one session.
pub async fn revoke_session(db: &Db, op: &Operator, session_id: Uuid) -> Result<()> {
    op.require(perm::USERS_CREDENTIALS)?;
    let mut tx = db.begin().await?;
    let row = tx
        .query_opt(
            r#"SELECT "user_id", "user_agent", "expires_at" FROM "Session" WHERE "id" = $1"#,
            &params![session_id],
        )
        .await?
        .ok_or_else(|| Error::not_found("session", session_id))?;
    tx.execute(
        r#"DELETE FROM "Session" WHERE "id" = $1"#,
        &params![session_id],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "SESSION_REVOKE",
            table: "Session",
            target_id: Some(session_id),
            old: Some(serde_json::json!({ "user_id": row.uuid("user_id")?, "user_agent": row.opt_text("user_agent")? })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An API key (never the key or its hash).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub scopes: Vec<String>,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

fn key_info(r: &Row) -> Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: r.uuid("id")?,
        user_id: r.uuid("user_id")?,
        scopes: r.text_array("scopes")?,
        last_used_at: r.opt_ts("last_used_at")?,
        expires_at: r.opt_ts("expires_at")?,
        created_at: r.ts("created_at")?,
    })
}

/// A user's API keys.
pub async fn api_keys(db: &Db, op: &Operator, id_or_email: &str) -> Result<Vec<ApiKeyInfo>> {
    op.require(perm::USERS_READ)?;
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let rows = tx
        .query(
            r#"SELECT "id", "user_id", "scopes", "last_used_at", "expires_at", "created_at" FROM "ApiKey"
               WHERE "user_id" = $1 ORDER BY "created_at" DESC, "id" DESC"#,
            &params![id],
        )
        .await?;
    tx.rollback().await?;
    rows.iter().map(key_info).collect()
}

/// A new API key: the plaintext is returned once; only its SHA-256 is stored.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct NewApiKey {
    pub key: ApiKeyInfo,
    pub plaintext: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("key", &self.key)
            .field("plaintext", &"[redacted]")
            .finish()
    }
}

/// Creates an API key for a user with scopes and an optional expiry.
pub async fn create_api_key(
    db: &Db,
    op: &Operator,
    id_or_email: &str,
    scopes: &[String],
    expires_at: Option<NaiveDateTime>,
) -> Result<NewApiKey> {
    op.require(perm::USERS_CREDENTIALS)?;
    let re = regex::Regex::new(r"^[a-z0-9_.:*-]{1,100}$").map_err(|e| Error::db(e.to_string()))?;
    let scopes: Vec<String> = scopes
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if scopes.is_empty() {
        return Err(Error::invalid(
            "scopes",
            "give at least one scope (e.g. --scopes tasks.read,tasks.write)",
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| !re.is_match(s)) {
        return Err(Error::invalid(
            "scopes",
            format!("{bad:?} is not a scope (lower-case letters, digits and . _ : * -)"),
        ));
    }
    if let Some(e) = expires_at {
        if e <= now() {
            return Err(Error::invalid("expires", "is in the past"));
        }
    }
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let plaintext = format!("ncyk_{}", hex::encode(b));
    let hash = hex::encode(Sha256::digest(plaintext.as_bytes()));
    let mut tx = db.begin().await?;
    let uid = resolve_user(&mut tx, id_or_email).await?;
    if load(&mut tx, uid).await?.deleted_at.is_some() {
        return Err(Error::invalid("user", "is deleted; restore it first"));
    }
    let mut key = ApiKeyInfo {
        id: Uuid::new_v4(),
        user_id: uid,
        scopes,
        last_used_at: None,
        expires_at: expires_at.map(crate::db::truncate_ms),
        created_at: now(),
    };
    if tx.dialect() == crate::db::Dialect::Postgres {
        // Operator roles cannot write the hash column: the checked entry point does (0012).
        let rows = tx
            .query(
                "SELECT ncy_api_key_create($1, $2, $3, $4, $5) AS created_at",
                &params![key.id, uid, hash, key.scopes.clone(), key.expires_at],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::db("ncy_api_key_create returned no row"))?;
        key.created_at = row.ts("created_at")?;
    } else {
        tx.execute(
            r#"INSERT INTO "ApiKey" ("id", "key_hash", "user_id", "scopes", "expires_at", "created_at") VALUES ($1, $2, $3, $4, $5, $6)"#,
            &params![key.id, hash, uid, key.scopes.clone(), key.expires_at, key.created_at],
        )
        .await?;
    }
    let mut new = snapshot(&key);
    if let Some(m) = new.as_object_mut() {
        m.insert("key_hash".into(), serde_json::json!("[redacted]"));
    }
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "API_KEY_CREATE",
            table: "ApiKey",
            target_id: Some(key.id),
            old: None,
            new: Some(new),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(NewApiKey { key, plaintext })
}

/// Revokes (deletes) an API key.
pub async fn revoke_api_key(db: &Db, op: &Operator, key_id: Uuid) -> Result<()> {
    op.require(perm::USERS_CREDENTIALS)?;
    let mut tx = db.begin().await?;
    let row = tx
        .query_opt(r#"SELECT "id", "user_id", "scopes", "last_used_at", "expires_at", "created_at" FROM "ApiKey" WHERE "id" = $1"#, &params![key_id])
        .await?
        .ok_or_else(|| Error::not_found("API key", key_id))?;
    let info = key_info(&row)?;
    tx.execute(r#"DELETE FROM "ApiKey" WHERE "id" = $1"#, &params![key_id])
        .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "API_KEY_REVOKE",
            table: "ApiKey",
            target_id: Some(key_id),
            old: Some(snapshot(&info)),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn role_id(tx: &mut Tx, role: &str) -> Result<Uuid> {
    let r = tx
        .query_opt(
            r#"SELECT "id" FROM "Role" WHERE "name" = $1"#,
            &params![role.trim().to_uppercase()],
        )
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "role",
                format!(
                    "no role named {role:?} (built-in: ADMIN, MANAGER, EMPLOYEE, SYSTEM, SUPPORT)"
                ),
            )
        })?;
    r.uuid("id")
}

/// Grants a role (UserRoleMap, granted_by = operator).
pub async fn grant_role(db: &Db, op: &Operator, id_or_email: &str, role: &str) -> Result<()> {
    op.require(perm::ROLES_WRITE)?;
    let mut tx = db.begin().await?;
    let uid = resolve_user(&mut tx, id_or_email).await?;
    let rid = role_id(&mut tx, role).await?;
    let n = tx
        .execute(
            r#"INSERT INTO "UserRoleMap" ("user_id", "role_id", "granted_at", "granted_by") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"#,
            &params![uid, rid, now(), op.user_id],
        )
        .await?;
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
    let n = tx
        .execute(
            r#"DELETE FROM "UserRoleMap" WHERE "user_id" = $1 AND "role_id" = $2"#,
            &params![uid, rid],
        )
        .await?;
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
