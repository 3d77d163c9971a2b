//! The data subject: a user named by id or email (deleted and anonymized users included).

use chrono::NaiveDateTime;
use ncy_core::db::Tx;
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Domain of the addresses erased users receive.
pub const ERASED_DOMAIN: &str = "@deleted.invalid";

/// The address an erased user keeps: `anonymized_<id>@deleted.invalid`.
pub fn anonymized_email(id: Uuid) -> String {
    format!("anonymized_{id}{ERASED_DOMAIN}")
}

/// A user as the GDPR screens show them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Subject {
    pub id: Uuid,
    pub email: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    /// True once the erasure rewrote the email.
    pub anonymized: bool,
}

/// A row of [`SELECT`].
#[derive(Deserialize)]
struct SubjectRow {
    id: Uuid,
    email: String,
    status: String,
    created_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl Subject {
    fn from_row(r: &ncy_core::db::Row) -> Result<Subject> {
        let r: SubjectRow = r.decode()?;
        Ok(Subject {
            anonymized: r.email == anonymized_email(r.id),
            id: r.id,
            email: r.email,
            status: r.status,
            created_at: r.created_at,
            deleted_at: r.deleted_at,
        })
    }
}

const SELECT: &str =
    r#"SELECT "id", "email", "status"::text AS status, "created_at", "deleted_at" FROM "User""#;

/// Loads a user by id.
pub async fn by_id(tx: &mut Tx, id: Uuid) -> Result<Subject> {
    let row = tx
        .query_opt(&format!(r#"{SELECT} WHERE "id" = $1"#), &params![id])
        .await?
        .ok_or_else(|| Error::not_found("user", id))?;
    Subject::from_row(&row)
}

/// Resolves `ID|EMAIL` (a UUID, or an email matched case-insensitively).
pub async fn resolve(tx: &mut Tx, user: &str) -> Result<Subject> {
    let user = user.trim();
    if user.is_empty() {
        return Err(Error::invalid(
            "user",
            "empty; pass a user id (UUID) or an email address",
        ));
    }
    if let Ok(id) = Uuid::parse_str(user) {
        return by_id(tx, id).await;
    }
    if !user.contains('@') {
        return Err(Error::invalid(
            "user",
            format!("{user:?} is neither a user id (UUID) nor an email address"),
        ));
    }
    let row = tx
        .query_opt(
            &format!(r#"{SELECT} WHERE lower("email") = lower($1)"#),
            &params![user],
        )
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    Subject::from_row(&row)
}
