//! `ApprovalRequest` rows: filing, reading, deciding and recording the outcome, each audited in
//! its own transaction. On PostgreSQL the `ncy_approval_guard` trigger keeps the same rules
//! for operator logins (migration 0020).

use ncy_core::admin::settings::{self, APPROVALS_BULK_MIN_ROWS, APPROVALS_REQUIRED};
use ncy_core::audit::{self, Entry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Db, Row, Tx};
use ncy_core::{params, Error, Result};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::model::{Approval, Request, Status};

const SELECT: &str = r#"SELECT a."id", a."action", a."permission", a."target", a."summary", a."payload",
    a."status", a."requested_by", r."email" AS "requested_by_email", a."requested_at",
    a."decided_by", d."email" AS "decided_by_email", a."decided_at", a."reason",
    a."executed_at", a."result", a."error"
  FROM "ApprovalRequest" a
  LEFT JOIN "User" r ON r."id" = a."requested_by"
  LEFT JOIN "User" d ON d."id" = a."decided_by""#;

fn from_row(r: &Row) -> Result<Approval> {
    r.decode()
}

async fn load(tx: &mut Tx, id: Uuid) -> Result<Approval> {
    let r = tx
        .query_opt(&format!(r#"{SELECT} WHERE a."id" = $1"#), &params![id])
        .await?
        .ok_or_else(|| Error::not_found("approval request", id))?;
    from_row(&r)
}

/// Whether `request` needs a second operator's approval under the settings
/// `approvals.required` and (for bulk edits) `approvals.bulk_min_rows`.
pub async fn required(db: &Db, request: &Request) -> Result<bool> {
    let mut tx = db.begin().await?;
    let listed = settings::read(&mut tx, APPROVALS_REQUIRED)
        .await?
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|a| a.as_str() == Some(request.action()));
    let min_rows = match request.rows() {
        Some(_) if listed => settings::read(&mut tx, APPROVALS_BULK_MIN_ROWS)
            .await?
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| settings::default_of(APPROVALS_BULK_MIN_ROWS)),
        _ => 0,
    };
    tx.rollback().await?;
    Ok(listed && request.rows().is_none_or(|n| n as i64 >= min_rows))
}

fn audit_entry<'a>(action: &'a str, a: &Approval, new: serde_json::Value) -> Entry<'a> {
    Entry {
        action,
        table: "ApprovalRequest",
        target_id: Some(a.id),
        old: Some(json!({ "status": a.status })),
        new: Some(new),
    }
}

/// Files `request` for approval (the operator must hold its permission). A request for the
/// same action and target still pending is returned instead of a second one.
pub async fn file(db: &Db, op: &Operator, request: &Request) -> Result<Approval> {
    op.require(request.permission())?;
    #[derive(Deserialize)]
    struct Pending {
        id: Uuid,
    }
    let mut tx = db.begin().await?;
    let pending: Option<Pending> = tx
        .query_opt_as(
            r#"SELECT "id" FROM "ApprovalRequest" WHERE "status" = 'PENDING' AND "action" = $1 AND "target" = $2
               ORDER BY "requested_at" LIMIT 1"#,
            &params![request.action(), request.target()],
        )
        .await?;
    if let Some(r) = pending {
        let a = load(&mut tx, r.id).await?;
        tx.rollback().await?;
        return Ok(a);
    }
    let id = Uuid::new_v4();
    tx.execute(
        r#"INSERT INTO "ApprovalRequest" ("id", "action", "permission", "target", "summary", "payload", "status", "requested_by", "requested_at")
           VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8)"#,
        &params![
            id,
            request.action(),
            request.permission(),
            request.target(),
            request.summary(),
            request.to_json()?,
            op.user_id,
            now()
        ],
    )
    .await?;
    let a = load(&mut tx, id).await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "APPROVAL_REQUEST",
            table: "ApprovalRequest",
            target_id: Some(id),
            old: None,
            new: Some(json!({
                "action": a.action, "target": a.target, "summary": a.summary,
                "requested_by": op.user_id,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// The queue, newest first: requests for permissions the operator holds, and their own.
pub async fn list(
    db: &Db,
    op: &Operator,
    status: Option<Status>,
    limit: u32,
) -> Result<Vec<Approval>> {
    let limit = limit.clamp(1, 500) as i64;
    let rows = db
        .query(
            &format!(
                r#"{SELECT} WHERE ($1::text IS NULL OR a."status"::text = $1::text)
                   ORDER BY a."requested_at" DESC, a."id" DESC LIMIT $2"#
            ),
            &params![status.map(Status::as_str), limit * 4],
        )
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let a = from_row(r)?;
        if a.requested_by == op.user_id || op.can(&a.permission) {
            out.push(a);
        }
        if out.len() as i64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// One request, if the operator may see it.
pub async fn get(db: &Db, op: &Operator, id: Uuid) -> Result<Approval> {
    let mut tx = db.begin().await?;
    let a = load(&mut tx, id).await?;
    tx.rollback().await?;
    if a.requested_by != op.user_id && !op.can(&a.permission) {
        return Err(Error::Forbidden {
            permission: a.permission,
        });
    }
    Ok(a)
}

/// Locks a pending request for a decision by `op`.
async fn lock_pending(tx: &mut Tx, id: Uuid) -> Result<Approval> {
    tx.query_opt(
        r#"SELECT "id" FROM "ApprovalRequest" WHERE "id" = $1 FOR UPDATE"#,
        &params![id],
    )
    .await?
    .ok_or_else(|| Error::not_found("approval request", id))?;
    let a = load(tx, id).await?;
    if a.status != Status::Pending {
        return Err(Error::conflict(
            "status",
            format!(
                "approval request {id} is {} already{}; nothing was done",
                a.status.as_str().to_lowercase(),
                a.decided_by_email
                    .as_deref()
                    .map(|e| format!(" (by {e})"))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(a)
}

/// Approves a pending request: the approver holds its permission and is not its requester.
/// Returns the approved request, whose action the caller then runs ([`crate::approve`]).
pub(crate) async fn claim(db: &Db, op: &Operator, id: Uuid) -> Result<(Approval, Request)> {
    let mut tx = db.begin().await?;
    let a = lock_pending(&mut tx, id).await?;
    op.require(&a.permission)?;
    if a.requested_by == op.user_id {
        return Err(Error::conflict(
            "approver",
            "you filed this request: another operator must approve it (four eyes); you may cancel it",
        ));
    }
    let request = Request::from_json(a.payload.clone())?;
    tx.execute(
        r#"UPDATE "ApprovalRequest" SET "status" = 'APPROVED', "decided_by" = $2, "decided_at" = $3 WHERE "id" = $1"#,
        &params![id, op.user_id, now()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        audit_entry(
            "APPROVAL_APPROVE",
            &a,
            json!({ "status": "APPROVED", "action": a.action, "target": a.target,
                    "requested_by": a.requested_by, "approved_by": op.user_id }),
        ),
    )
    .await?;
    let approved = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok((approved, request))
}

/// Records the outcome of an approved request's action.
pub(crate) async fn complete(
    db: &Db,
    op: &Operator,
    a: &Approval,
    outcome: std::result::Result<&serde_json::Value, &Error>,
) -> Result<Approval> {
    let mut tx = db.begin().await?;
    let (status, action, result, error) = match outcome {
        Ok(v) => (
            Status::Executed,
            "APPROVAL_EXECUTED",
            Some(v.clone()),
            None::<String>,
        ),
        Err(e) => (Status::Failed, "APPROVAL_FAILED", None, Some(e.to_string())),
    };
    tx.execute(
        r#"UPDATE "ApprovalRequest" SET "status" = $2::"ApprovalStatus", "executed_at" = $3, "result" = $4, "error" = $5
           WHERE "id" = $1 AND "status" = 'APPROVED'"#,
        &params![a.id, status.as_str(), now(), result, error.clone()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        audit_entry(
            action,
            a,
            json!({ "status": status, "action": a.action, "target": a.target,
                    "requested_by": a.requested_by, "approved_by": op.user_id, "error": error }),
        ),
    )
    .await?;
    let done = load(&mut tx, a.id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Rejects a pending request with a reason (another operator holding its permission).
pub async fn reject(db: &Db, op: &Operator, id: Uuid, reason: &str) -> Result<Approval> {
    let reason = ncy_core::admin::validate_text("reason", reason, 1000)?;
    let mut tx = db.begin().await?;
    let a = lock_pending(&mut tx, id).await?;
    op.require(&a.permission)?;
    if a.requested_by == op.user_id {
        return Err(Error::conflict(
            "approver",
            "you filed this request: cancel it instead of rejecting it",
        ));
    }
    tx.execute(
        r#"UPDATE "ApprovalRequest" SET "status" = 'REJECTED', "decided_by" = $2, "decided_at" = $3, "reason" = $4 WHERE "id" = $1"#,
        &params![id, op.user_id, now(), reason.as_str()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        audit_entry(
            "APPROVAL_REJECT",
            &a,
            json!({ "status": "REJECTED", "reason": reason, "requested_by": a.requested_by,
                    "rejected_by": op.user_id }),
        ),
    )
    .await?;
    let done = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Withdraws one's own pending request.
pub async fn cancel(db: &Db, op: &Operator, id: Uuid) -> Result<Approval> {
    let mut tx = db.begin().await?;
    let a = lock_pending(&mut tx, id).await?;
    if a.requested_by != op.user_id {
        return Err(Error::conflict(
            "requester",
            "only the operator who filed a request cancels it; reject it instead",
        ));
    }
    tx.execute(
        r#"UPDATE "ApprovalRequest" SET "status" = 'CANCELLED', "decided_by" = $2, "decided_at" = $3 WHERE "id" = $1"#,
        &params![id, op.user_id, now()],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        audit_entry("APPROVAL_CANCEL", &a, json!({ "status": "CANCELLED" })),
    )
    .await?;
    let done = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(done)
}
