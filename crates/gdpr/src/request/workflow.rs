//! The workflow steps: intake, identity verification, extension, rejection, completion.

use chrono::Months;
use ncy_core::audit::{self, Entry};
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{now, Db, Tx};
use ncy_core::{params, Error, Result};
use serde_json::json;
use uuid::Uuid;

use super::model::{due_date, load, lock, Request, RequestKind, RequestState};
use crate::rows::Id;
use crate::subject;

fn required_text(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn require_open(r: &Request, step: &str) -> Result<()> {
    if r.state.is_open() {
        Ok(())
    } else {
        Err(Error::conflict(
            "status",
            format!(
                "request {} is already {}; it cannot be {step}",
                r.id,
                r.state.as_str()
            ),
        ))
    }
}

/// Fails unless identity verification is recorded (export and erasure need it).
pub(crate) fn require_verified(r: &Request) -> Result<()> {
    if r.identity_verified_at.is_none() {
        return Err(Error::conflict(
            "identity",
            format!(
                "the subject's identity is not verified for request {}; record how it was checked first",
                r.id
            ),
        ));
    }
    Ok(())
}

async fn audit_step(
    tx: &mut Tx,
    op: &Operator,
    action: &str,
    id: Uuid,
    old: serde_json::Value,
    new: serde_json::Value,
) -> Result<()> {
    audit::record(
        tx,
        op,
        Entry {
            action,
            table: "GdprRequest",
            target_id: Some(id),
            old: Some(old),
            new: Some(new),
        },
    )
    .await?;
    Ok(())
}

/// Intake input.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// User id or email.
    pub user: String,
    pub kind: RequestKind,
    pub notes: Option<String>,
}

/// Files a request (status RECEIVED, due in one month). Refuses a second open request of the
/// same kind for the same subject.
pub async fn create(db: &Db, op: &Operator, new: NewRequest) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let notes = match new.notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(required_text("note", n, 10_000)?),
    };
    let mut tx = db.begin().await?;
    let subject = subject::resolve(&mut tx, &new.user).await?;
    let types = new.kind.db_types();
    let dup: Option<Id> = tx
        .query_opt_as(
            r#"SELECT "id" FROM "GdprRequest" WHERE "user_id" = $1 AND "type"::text IN ($2, $3)
               AND "status"::text NOT IN ('COMPLETED', 'REJECTED')"#,
            &params![subject.id, types[0], *types.last().unwrap_or(&types[0])],
        )
        .await?;
    if let Some(d) = dup {
        return Err(Error::conflict(
            "type",
            format!(
                "an open {} request for this user already exists: {}; work that one",
                new.kind.as_str(),
                d.id
            ),
        ));
    }
    let id = Uuid::new_v4();
    let t = now();
    let due = due_date(t);
    tx.execute(
        r#"INSERT INTO "GdprRequest" ("id", "user_id", "type", "status", "received_at", "due_at", "handler_id", "notes", "created_at", "updated_at")
           VALUES ($1, $2, $3::"GdprRequestType", 'RECEIVED', $4, $5, $6, $7, $4, $4)"#,
        &params![id, subject.id, new.kind.as_str(), t, due, op.user_id, notes.clone()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "GDPR_REQUEST_CREATE",
            table: "GdprRequest",
            target_id: Some(id),
            old: None,
            new: Some(json!({
                "user_id": subject.id, "type": new.kind.as_str(), "status": "RECEIVED",
                "due_at": ncy_core::db::format_ts(&due), "handler_id": op.user_id,
                "has_notes": notes.is_some(),
            })),
        },
    )
    .await?;
    let r = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(r)
}

/// Marks identity verification as started (RECEIVED → VERIFYING_IDENTITY).
pub async fn begin_verification(db: &Db, op: &Operator, id: Uuid) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    if r.state != RequestState::Received {
        return Err(Error::conflict(
            "status",
            format!(
                "request {id} is {}; verification starts from RECEIVED",
                r.state.as_str()
            ),
        ));
    }
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'VERIFYING_IDENTITY', "handler_id" = $2, "updated_at" = $3 WHERE "id" = $1"#,
        &params![id, op.user_id, now()],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_VERIFICATION_STARTED",
        id,
        json!({"status": r.raw_status, "handler_id": r.handler_id}),
        json!({"status": "VERIFYING_IDENTITY", "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Records who verified the subject's identity and how; the request moves to IN_PROGRESS.
pub async fn verify_identity(db: &Db, op: &Operator, id: Uuid, method: &str) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let method = required_text("method", method, 500)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "verified")?;
    if let Some(at) = r.identity_verified_at {
        return Err(Error::conflict(
            "identity",
            format!("identity for request {id} was already verified at {at} UTC"),
        ));
    }
    let t = now();
    tx.execute(
        r#"UPDATE "GdprRequest" SET "identity_verified_at" = $2, "identity_verified_by" = $3, "identity_method" = $4,
               "status" = 'IN_PROGRESS', "handler_id" = $3, "updated_at" = $2 WHERE "id" = $1"#,
        &params![id, t, op.user_id, method.clone()],
    )
    .await?;
    audit_step(&mut tx, op, "GDPR_IDENTITY_VERIFIED", id,
        json!({"status": r.raw_status, "handler_id": r.handler_id}),
        json!({"status": "IN_PROGRESS", "identity_verified_by": op.user_id, "identity_method": method, "handler_id": op.user_id})).await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Extends the deadline by 1 or 2 months beyond the original due date (Art. 12(3)), with a
/// recorded reason.
pub async fn extend(
    db: &Db,
    op: &Operator,
    id: Uuid,
    months: u32,
    reason: &str,
) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    if !(1..=2).contains(&months) {
        return Err(Error::invalid(
            "months",
            format!("{months} is not allowed; the deadline may be extended by 1 or 2 months (Art. 12(3))"),
        ));
    }
    let reason = required_text("reason", reason, 2000)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "extended")?;
    let new_due = r
        .due_at
        .checked_add_months(Months::new(months))
        .ok_or_else(|| Error::invalid("months", "the extended date is out of range"))?;
    if let Some(cur) = r.extended_due_at {
        if new_due <= cur {
            return Err(Error::conflict(
                "months",
                format!("request {id} is already extended to {cur} UTC; an extension can only move the deadline later (at most 2 months past {} UTC)", r.due_at),
            ));
        }
    }
    tx.execute(
        r#"UPDATE "GdprRequest" SET "extended_due_at" = $2, "extension_reason" = $3, "handler_id" = $4, "updated_at" = $5 WHERE "id" = $1"#,
        &params![id, new_due, reason.clone(), op.user_id, now()],
    )
    .await?;
    audit_step(&mut tx, op, "GDPR_EXTEND", id,
        json!({"extended_due_at": r.extended_due_at.map(|t| ncy_core::db::format_ts(&t)), "extension_reason": r.extension_reason}),
        json!({"extended_due_at": ncy_core::db::format_ts(&new_due), "extension_reason": reason, "months": months})).await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Rejects a request with a reason; no personal data is touched.
pub async fn reject(db: &Db, op: &Operator, id: Uuid, reason: &str) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let reason = required_text("reason", reason, 2000)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "rejected")?;
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'REJECTED', "rejection_reason" = $2, "handler_id" = $3, "updated_at" = $4 WHERE "id" = $1"#,
        &params![id, reason.clone(), op.user_id, now()],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_REJECT",
        id,
        json!({"status": r.raw_status}),
        json!({"status": "REJECTED", "rejection_reason": reason, "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Closes a request. Export kinds need their bundle, erasures a receipt with a clean sweep;
/// every kind needs the identity verified.
pub async fn complete(db: &Db, op: &Operator, id: Uuid) -> Result<Request> {
    op.require(perm::GDPR_HANDLE)?;
    let mut tx = db.begin().await?;
    let r = lock(&mut tx, id).await?;
    require_open(&r, "completed")?;
    require_verified(&r)?;
    if r.kind.is_export() && r.result_path.is_none() {
        return Err(Error::conflict(
            "export",
            format!("request {id} has no export yet; export the subject's data first"),
        ));
    }
    if r.kind == RequestKind::Erasure {
        let clean = r
            .receipt
            .as_ref()
            .and_then(|v| v.pointer("/sweep/clean"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !clean {
            return Err(Error::conflict(
                "erasure",
                format!("request {id} has no erasure receipt with a clean sweep; erase the subject first"),
            ));
        }
    }
    let t = now();
    tx.execute(
        r#"UPDATE "GdprRequest" SET "status" = 'COMPLETED', "completed_at" = $2, "handler_id" = $3, "updated_at" = $2 WHERE "id" = $1"#,
        &params![id, t, op.user_id],
    )
    .await?;
    audit_step(
        &mut tx,
        op,
        "GDPR_COMPLETE",
        id,
        json!({"status": r.raw_status}),
        json!({"status": "COMPLETED", "handler_id": op.user_id}),
    )
    .await?;
    let out = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}
