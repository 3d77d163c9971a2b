//! Legal holds: while a hold is active on a user, erasure (client and platform function alike)
//! and retention purges are refused.

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Tx};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::subject;

/// One legal hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Hold {
    pub id: Uuid,
    pub user_id: Uuid,
    pub reason: String,
    pub placed_by: Option<Uuid>,
    pub placed_at: NaiveDateTime,
    pub released_by: Option<Uuid>,
    pub released_at: Option<NaiveDateTime>,
    pub release_reason: Option<String>,
}

const SELECT: &str = r#"SELECT "id", "user_id", "reason", "placed_by", "placed_at", "released_by", "released_at", "release_reason" FROM "LegalHold""#;

fn from_row(r: &ncy_core::db::Row) -> Result<Hold> {
    r.decode()
}

/// Active holds on `user` inside `tx`.
pub(crate) async fn active_in(tx: &mut Tx, user: Uuid) -> Result<Vec<Hold>> {
    tx.query(
        &format!(
            r#"{SELECT} WHERE "user_id" = $1 AND "released_at" IS NULL ORDER BY "placed_at", "id""#
        ),
        &params![user],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Every hold (active and released) on a user (needs `gdpr.read`).
pub async fn list(db: &Db, op: &Operator, user: &str) -> Result<Vec<Hold>> {
    op.require(perm::GDPR_READ)?;
    let mut tx = db.begin().await?;
    let s = subject::resolve(&mut tx, user).await?;
    let out = tx
        .query(
            &format!(r#"{SELECT} WHERE "user_id" = $1 ORDER BY "placed_at", "id""#),
            &params![s.id],
        )
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(out)
}

/// Places a legal hold on a user (needs `gdpr.handle`).
pub async fn place(db: &Db, op: &Operator, user: &str, reason: &str) -> Result<Hold> {
    op.require(perm::GDPR_HANDLE)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "a legal hold needs a reason (case or matter reference)",
        ));
    }
    let mut tx = db.begin().await?;
    let s = subject::resolve(&mut tx, user).await?;
    let id = Uuid::new_v4();
    let t = now();
    tx.execute(
        r#"INSERT INTO "LegalHold" ("id", "user_id", "reason", "placed_by", "placed_at") VALUES ($1, $2, $3, $4, $5)"#,
        &params![id, s.id, reason, op.user_id, t],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "GDPR_LEGAL_HOLD_PLACE",
            table: "LegalHold",
            target_id: Some(id),
            old: None,
            new: Some(json!({"user_id": s.id, "reason": reason})),
        },
    )
    .await?;
    let h = from_row(
        &tx.query_one(&format!(r#"{SELECT} WHERE "id" = $1"#), &params![id])
            .await?,
    )?;
    tx.commit().await?;
    Ok(h)
}

/// Releases every active hold on a user; returns how many were released.
pub async fn release(db: &Db, op: &Operator, user: &str, reason: &str) -> Result<u64> {
    op.require(perm::GDPR_HANDLE)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "releasing a legal hold needs a reason",
        ));
    }
    let mut tx = db.begin().await?;
    let s = subject::resolve(&mut tx, user).await?;
    let active = active_in(&mut tx, s.id).await?;
    if active.is_empty() {
        return Err(Error::conflict(
            "legal hold",
            format!("user {} has no active legal hold", s.id),
        ));
    }
    let t = now();
    for h in &active {
        tx.execute(
            r#"UPDATE "LegalHold" SET "released_at" = $2, "released_by" = $3, "release_reason" = $4 WHERE "id" = $1"#,
            &params![h.id, t, op.user_id, reason],
        )
        .await?;
        audit::record(
            &mut tx,
            op,
            Entry {
                action: "GDPR_LEGAL_HOLD_RELEASE",
                table: "LegalHold",
                target_id: Some(h.id),
                old: Some(json!({"released_at": null})),
                new: Some(
                    json!({"released_at": ncy_core::db::format_ts(&t), "release_reason": reason}),
                ),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(active.len() as u64)
}
