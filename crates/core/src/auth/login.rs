//! Operator login: password verification (argon2id, legacy bcrypt upgraded on success),
//! account state checks, lockout after repeated failures, Session rows holding only a hash of
//! the session token, and the LoginAttempt journal.

use chrono::{Duration, NaiveDateTime};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::operator::{user_agent, Client, Operator};
use super::password::{hash_password, verify_password, Verified};
use crate::audit::{record_as, Entry};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::params;

/// Lockout rule: after `max_failures` consecutive failed logins, refuse for `lock_minutes`.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub lock_minutes: i64,
    /// Lifetime of an operator session.
    pub session_hours: i64,
}

impl Default for LockoutPolicy {
    /// The defaults of the known settings (`admin::settings::KNOWN`).
    fn default() -> Self {
        use crate::admin::settings::{known, LOCKOUT_MAX_FAILURES, LOCKOUT_MINUTES, SESSION_HOURS};
        let d = |key| known(key).map(|k| k.default).unwrap_or(1);
        LockoutPolicy {
            max_failures: d(LOCKOUT_MAX_FAILURES),
            lock_minutes: d(LOCKOUT_MINUTES),
            session_hours: d(SESSION_HOURS),
        }
    }
}

impl LockoutPolicy {
    /// The policy configured in global Settings (`auth.lockout.max_failures`,
    /// `auth.lockout.minutes`, `auth.session.hours`), defaults for what is not set.
    pub async fn load(db: &Db) -> Result<LockoutPolicy> {
        let mut p = LockoutPolicy::default();
        let mut tx = db.begin().await?;
        use crate::admin::settings::{LOCKOUT_MAX_FAILURES, LOCKOUT_MINUTES, SESSION_HOURS};
        for (key, slot) in [
            (LOCKOUT_MAX_FAILURES, &mut p.max_failures),
            (LOCKOUT_MINUTES, &mut p.lock_minutes),
            (SESSION_HOURS, &mut p.session_hours),
        ] {
            if let Some(n) = crate::admin::settings::read(&mut tx, key)
                .await?
                .and_then(|v| v.as_i64())
            {
                if n > 0 {
                    *slot = n;
                }
            }
        }
        tx.rollback().await?;
        Ok(p)
    }
}

/// A successful login: the session token (shown to the adapter once, stored only hashed).
#[derive(Clone, Serialize)]
pub struct LoginResult {
    #[serde(skip)]
    pub token: String,
    pub session_id: Uuid,
    pub expires_at: NaiveDateTime,
    pub operator: Operator,
    /// True when a legacy bcrypt hash was replaced by argon2id during this login.
    pub password_upgraded: bool,
}

impl std::fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResult")
            .field("token", &"[redacted]")
            .field("session_id", &self.session_id)
            .field("operator", &self.operator.email)
            .finish()
    }
}

/// SHA-256 of a session token, as stored in `Session.refresh_token`.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!("ncy_{}", hex::encode(b))
}

async fn journal(
    tx: &mut Tx,
    email: &str,
    user_id: Option<Uuid>,
    success: bool,
    reason: &str,
    client: Client,
) -> Result<()> {
    tx.execute(
        r#"INSERT INTO "LoginAttempt" ("id", "email", "user_id", "success", "reason", "client", "created_at") VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        &params![Uuid::new_v4(), email, user_id, success, reason, client.as_str(), now()],
    )
    .await?;
    let action = if success { "LOGIN" } else { "LOGIN_FAILED" };
    record_as(
        tx,
        user_id,
        &user_agent(client),
        Entry {
            action,
            table: "User",
            target_id: user_id,
            old: None,
            new: Some(serde_json::json!({ "client": client.as_str(), "result": reason })),
        },
    )
    .await?;
    Ok(())
}

/// Returns the lock end when `email` is locked out now.
async fn locked_until(
    tx: &mut Tx,
    email: &str,
    policy: &LockoutPolicy,
) -> Result<Option<NaiveDateTime>> {
    let rows: Vec<(bool, NaiveDateTime)> = tx
        .query_as(
            r#"SELECT "success", "created_at" FROM "LoginAttempt"
               WHERE "email" = $1 AND ("reason" IS NULL OR "reason" <> 'locked')
               ORDER BY "created_at" DESC LIMIT $2"#,
            &params![email, policy.max_failures],
        )
        .await?;
    if (rows.len() as i64) < policy.max_failures {
        return Ok(None);
    }
    if rows.iter().any(|(success, _)| *success) {
        return Ok(None);
    }
    let Some(&(_, newest)) = rows.first() else {
        return Ok(None);
    };
    let until = newest + Duration::minutes(policy.lock_minutes);
    Ok((until > now()).then_some(until))
}

/// Logs an operator in with email and password.
pub async fn login(
    db: &Db,
    email: &str,
    password: &str,
    client: Client,
    policy: &LockoutPolicy,
) -> Result<LoginResult> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > 255 {
        return Err(Error::invalid(
            "email",
            "give the email address you log in with",
        ));
    }
    let mut tx = db.begin().await?;
    if let Some(until) = locked_until(&mut tx, &email, policy).await? {
        journal(&mut tx, &email, None, false, "locked", client).await?;
        tx.commit().await?;
        let minutes = ((until - now()).num_seconds() + 59) / 60;
        return Err(Error::LockedOut {
            until,
            minutes: minutes.max(1),
        });
    }
    let user: Option<(Uuid, String, String, Option<NaiveDateTime>)> = tx
        .query_opt_as(
            r#"SELECT "id", "password_hash", "status"::text AS status, "deleted_at" FROM "User" WHERE lower("email") = $1"#,
            &params![email.as_str()],
        )
        .await?;
    let Some((user_id, stored, status, deleted_at)) = user else {
        // Same work as a real check so timing does not reveal whether the account exists.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
        let _ = verify_password(password, dummy);
        journal(&mut tx, &email, None, false, "unknown_email", client).await?;
        tx.commit().await?;
        return Err(Error::BadCredentials);
    };
    let Some(verified) = verify_password(password, &stored) else {
        journal(
            &mut tx,
            &email,
            Some(user_id),
            false,
            "bad_password",
            client,
        )
        .await?;
        tx.commit().await?;
        return Err(Error::BadCredentials);
    };
    if deleted_at.is_some() {
        journal(&mut tx, &email, Some(user_id), false, "deleted", client).await?;
        tx.commit().await?;
        return Err(Error::AccountDisabled("deleted".into()));
    }
    if status == "INACTIVE" || status == "SUSPENDED" {
        journal(
            &mut tx,
            &email,
            Some(user_id),
            false,
            &status.to_lowercase(),
            client,
        )
        .await?;
        tx.commit().await?;
        return Err(Error::AccountDisabled(status.to_lowercase()));
    }
    let mut upgraded = false;
    if verified == Verified::NeedsUpgrade {
        let new_hash = hash_password(password)?;
        tx.execute(
            r#"UPDATE "User" SET "password_hash" = $1, "updated_at" = $2 WHERE "id" = $3"#,
            &params![new_hash, now(), user_id],
        )
        .await?;
        upgraded = true;
    }
    let token = new_token();
    let session_id = Uuid::new_v4();
    let expires_at = now() + Duration::hours(policy.session_hours);
    tx.execute(
        r#"INSERT INTO "Session" ("id", "user_id", "refresh_token", "user_agent", "expires_at", "created_at") VALUES ($1, $2, $3, $4, $5, $6)"#,
        &params![session_id, user_id, token_hash(&token), user_agent(client), expires_at, now()],
    )
    .await?;
    journal(
        &mut tx,
        &email,
        Some(user_id),
        true,
        if upgraded { "ok_hash_upgraded" } else { "ok" },
        client,
    )
    .await?;
    let operator = Operator::load(&mut tx, user_id, client, Some(session_id)).await?;
    tx.commit().await?;
    Ok(LoginResult {
        token,
        session_id,
        expires_at,
        operator,
        password_upgraded: upgraded,
    })
}

/// Resolves a session token to its operator (expired, revoked or disabled → unauthenticated).
pub async fn authenticate(db: &Db, token: &str, client: Client) -> Result<Operator> {
    let mut tx = db.begin_read().await?;
    let (id, user_id, expires_at): (Uuid, Uuid, NaiveDateTime) = tx
        .query_opt_as(
            r#"SELECT "id", "user_id", "expires_at" FROM "Session" WHERE "refresh_token" = $1"#,
            &params![token_hash(token)],
        )
        .await?
        .ok_or_else(|| {
            Error::Unauthenticated("the session was revoked or does not exist".into())
        })?;
    if expires_at <= now() {
        return Err(Error::Unauthenticated("the session expired".into()));
    }
    let op = Operator::load(&mut tx, user_id, client, Some(id)).await?;
    tx.rollback().await?;
    Ok(op)
}

/// Ends a session (deletes its Session row). Unknown tokens are ignored.
pub async fn logout(db: &Db, token: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = tx
        .execute(
            r#"DELETE FROM "Session" WHERE "refresh_token" = $1"#,
            &params![token_hash(token)],
        )
        .await?;
    tx.commit().await?;
    Ok(n > 0)
}
