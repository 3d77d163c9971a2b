//! A user's credentials seen from the administration side: sessions (never their tokens) and
//! API keys (the secret shown once; only its SHA-256 is stored).

use chrono::NaiveDateTime;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::super::{resolve_user, snapshot};
use super::load;
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Row};
use crate::error::{Error, Result};
use crate::params;

/// A session (never its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SessionInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Set after reading, against the clock.
    #[serde(default)]
    pub expired: bool,
}

/// A user's sessions, newest first.
pub async fn sessions(db: &Db, op: &Operator, id_or_email: &str) -> Result<Vec<SessionInfo>> {
    op.require(perm::USERS_READ)?;
    let mut tx = db.begin().await?;
    let id = resolve_user(&mut tx, id_or_email).await?;
    let mut rows: Vec<SessionInfo> = tx
        .query_as(
            r#"SELECT "id", "user_id", "ip_address", "user_agent", "created_at", "expires_at" FROM "Session"
               WHERE "user_id" = $1 ORDER BY "created_at" DESC, "id" DESC LIMIT 1000"#,
            &params![id],
        )
        .await?;
    tx.rollback().await?;
    let t = now();
    for s in &mut rows {
        s.expired = s.expires_at <= t;
    }
    Ok(rows)
}

/// Revokes (deletes) one session.
pub async fn revoke_session(db: &Db, op: &Operator, session_id: Uuid) -> Result<()> {
    op.require(perm::USERS_CREDENTIALS)?;
    let mut tx = db.begin().await?;
    let (user_id, user_agent): (Uuid, Option<String>) = tx
        .query_opt_as(
            r#"SELECT "user_id", "user_agent" FROM "Session" WHERE "id" = $1"#,
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
            old: Some(serde_json::json!({ "user_id": user_id, "user_agent": user_agent })),
            new: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An API key (never the key or its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    r.decode()
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
            "give at least one scope (e.g. tasks.read, tasks.write)",
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
        key.created_at = tx
            .query_one_as(
                "SELECT ncy_api_key_create($1, $2, $3, $4, $5) AS created_at",
                &params![key.id, uid, hash, key.scopes.clone(), key.expires_at],
            )
            .await?;
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
