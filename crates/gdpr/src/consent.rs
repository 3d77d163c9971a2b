//! Consent records per purpose: grant, withdraw, history. Append-only: every change is a new
//! Consent row, the latest row per purpose is the current state.

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Dialect, Tx};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::subject;

/// One stored consent row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConsentRecord {
    pub id: Uuid,
    pub purpose: String,
    pub granted: bool,
    pub granted_at: Option<NaiveDateTime>,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub source: Option<String>,
    pub created_at: NaiveDateTime,
    /// Who recorded the change: the email of its AuditLog entry's actor (`system` without
    /// one), so staff without the audit log still see who did it; `None` for a row written
    /// without an audit entry (the platform's own sign-up flow).
    pub recorded_by: Option<String>,
}

/// The current state of one purpose.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConsentState {
    pub purpose: String,
    pub granted: bool,
    /// When it was granted or withdrawn.
    pub at: NaiveDateTime,
}

/// A user's consents: current state per purpose and the full history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConsentView {
    pub user_id: Uuid,
    /// False when a grant or withdrawal found the purpose already in that state.
    pub changed: bool,
    pub current: Vec<ConsentState>,
    pub history: Vec<ConsentRecord>,
}

/// Validates a purpose key (`marketing.email`, `analytics`, ...).
pub fn check_purpose(p: &str) -> Result<String> {
    let p = p.trim();
    if p.is_empty() || p.len() > 100 {
        return Err(Error::invalid(
            "purpose",
            "give a purpose of 1 to 100 characters, e.g. marketing.email",
        ));
    }
    if !p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(Error::invalid(
            "purpose",
            format!("{p:?} may only hold letters, digits and . _ - :"),
        ));
    }
    Ok(p.to_ascii_lowercase())
}

/// A consent row with the actor of its audit entry (served by the AuditLog index on
/// `target_id`). On PostgreSQL through `ncy_recorded_by`, since GDPR staff's database roles may
/// not read the audit log itself.
fn history_select(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => {
            r#"SELECT c.*, ncy_recorded_by('Consent', c."id") AS "recorded_by" FROM "Consent" c WHERE c."user_id" = $1"#
        }
        Dialect::Sqlite => {
            r#"SELECT c.*,
    (SELECT COALESCE(u."email", 'system') FROM "AuditLog" a LEFT JOIN "User" u ON u."id" = a."user_id"
      WHERE a."target_id" = c."id" AND a."target_table" = 'Consent' ORDER BY a."created_at" LIMIT 1) AS "recorded_by"
  FROM "Consent" c WHERE c."user_id" = $1"#
        }
    }
}

async fn history(tx: &mut Tx, user: Uuid, purpose: Option<&str>) -> Result<Vec<ConsentRecord>> {
    let (sql, p) = match purpose {
        Some(pp) => (
            format!(
                r#"{} AND c."purpose" = $2 ORDER BY c."created_at", c."id""#,
                history_select(tx.dialect())
            ),
            params![user, pp],
        ),
        None => (
            format!(
                r#"{} ORDER BY c."created_at", c."id""#,
                history_select(tx.dialect())
            ),
            params![user],
        ),
    };
    // `c.*`: the columns ConsentRecord does not name are ignored.
    tx.query_as(&sql, &p).await
}

fn current_of(h: &[ConsentRecord]) -> Vec<ConsentState> {
    let mut m: std::collections::BTreeMap<String, ConsentState> = Default::default();
    for r in h {
        m.insert(
            r.purpose.clone(),
            ConsentState {
                purpose: r.purpose.clone(),
                granted: r.granted,
                at: if r.granted {
                    r.granted_at
                } else {
                    r.withdrawn_at
                }
                .unwrap_or(r.created_at),
            },
        );
    }
    m.into_values().collect()
}

/// The current state per purpose inside `tx`.
pub(crate) async fn current_in(tx: &mut Tx, user: Uuid) -> Result<Vec<ConsentState>> {
    Ok(current_of(&history(tx, user, None).await?))
}

/// Lists a user's consents (needs `gdpr.read`).
pub async fn list(
    db: &Db,
    op: &Operator,
    user: &str,
    purpose: Option<&str>,
) -> Result<ConsentView> {
    op.require(perm::GDPR_READ)?;
    let purpose = purpose.map(check_purpose).transpose()?;
    let mut tx = db.begin().await?;
    let s = subject::resolve(&mut tx, user).await?;
    let h = history(&mut tx, s.id, purpose.as_deref()).await?;
    tx.commit().await?;
    Ok(ConsentView {
        user_id: s.id,
        changed: false,
        current: current_of(&h),
        history: h,
    })
}

async fn set(
    db: &Db,
    op: &Operator,
    user: &str,
    purpose: &str,
    grant: bool,
    source: Option<&str>,
) -> Result<ConsentView> {
    op.require(perm::GDPR_HANDLE)?;
    let purpose = check_purpose(purpose)?;
    let source = source
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("ncy-admin");
    if source.len() > 100 {
        return Err(Error::invalid("source", "longer than 100 characters"));
    }
    let mut tx = db.begin().await?;
    let s = subject::resolve(&mut tx, user).await?;
    let before = history(&mut tx, s.id, Some(&purpose)).await?;
    let cur = current_of(&before).into_iter().next();
    if !grant && !cur.as_ref().map(|c| c.granted).unwrap_or(false) {
        return Err(Error::conflict(
            "purpose",
            format!(
                "user {} has no granted consent for {purpose:?} to withdraw",
                s.id
            ),
        ));
    }
    let changed = cur.as_ref().map(|c| c.granted) != Some(grant);
    if changed {
        // History is ordered by time: keep each change strictly after the previous one.
        let t = match before.last() {
            Some(last) if last.created_at >= now() => {
                last.created_at + chrono::Duration::milliseconds(1)
            }
            _ => now(),
        };
        let id = Uuid::new_v4();
        let granted_at = if grant {
            Some(t)
        } else {
            before.last().and_then(|r| r.granted_at)
        };
        tx.execute(
            r#"INSERT INTO "Consent" ("id", "user_id", "purpose", "granted", "granted_at", "withdrawn_at", "source", "created_at")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
            &params![id, s.id, purpose.as_str(), grant, granted_at, if grant { None } else { Some(t) }, source, t],
        )
        .await?;
        audit::record(&mut tx, op, Entry {
            action: if grant { "GDPR_CONSENT_GRANT" } else { "GDPR_CONSENT_WITHDRAW" },
            table: "Consent",
            target_id: Some(id),
            old: Some(json!({"granted": cur.as_ref().map(|c| c.granted)})),
            new: Some(json!({"user_id": s.id, "purpose": purpose, "granted": grant, "source": source})),
        })
        .await?;
    }
    let h = history(&mut tx, s.id, None).await?;
    tx.commit().await?;
    Ok(ConsentView {
        user_id: s.id,
        changed,
        current: current_of(&h),
        history: h,
    })
}

/// Records a consent for a purpose (a no-op with `changed: false` when already granted).
pub async fn grant(
    db: &Db,
    op: &Operator,
    user: &str,
    purpose: &str,
    source: Option<&str>,
) -> Result<ConsentView> {
    set(db, op, user, purpose, true, source).await
}

/// Withdraws a granted consent; fails when the purpose is not currently granted.
pub async fn withdraw(db: &Db, op: &Operator, user: &str, purpose: &str) -> Result<ConsentView> {
    set(db, op, user, purpose, false, None).await
}
