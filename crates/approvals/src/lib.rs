//! Four-eyes approvals for destructive work.
//!
//! The setting `approvals.required` (a JSON array: `gdpr.erase`, `orgs.delete`, `users.delete`,
//! `backups.restore_over`, `tasks.bulk_update`; bulk edits from `approvals.bulk_min_rows` rows)
//! names the actions a second operator must approve. The adapters call [`gate`] before such
//! an action: when approval is required the action is filed as an `ApprovalRequest` and
//! [`ncy_core::Error::ApprovalFiled`] comes back instead of running it. Another operator
//! holding the same permission then [`approve`]s it, which runs it exactly once as the
//! approver and records the outcome; self-approval is refused (by the core, and on PostgreSQL
//! by a CHECK constraint and the `ncy_approval_guard` trigger for operator logins, migration
//! 0020). [`store::reject`] and [`store::cancel`] close a request without running it.
//!
//! Exactly once: approval moves the row PENDING → APPROVED under a row lock in its own
//! transaction before the action starts, so a second approval finds it decided; the outcome
//! is recorded as EXECUTED or FAILED afterwards. If the process dies while the action runs, the
//! row stays APPROVED (not run again automatically): the action's own audit entries tell
//! whether it happened.

pub mod gated;
mod model;
mod run;
pub mod store;

pub use model::{Approval, Request, Status};
pub use run::Env;
pub use store::{cancel, file, get, list, reject, required};

use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_core::{Error, Result};

/// Before a destructive action: `Ok(())` when it may run now, or, when the settings require a
/// second operator, files it and returns [`Error::ApprovalFiled`] naming the request. The
/// operator must hold the action's permission either way.
pub async fn gate(db: &Db, op: &Operator, request: &Request) -> Result<()> {
    op.require(request.permission())?;
    if !store::required(db, request).await? {
        return Ok(());
    }
    let Some(request) = run::prepare(db, op, request).await? else {
        return Ok(());
    };
    let a = store::file(db, op, &request).await?;
    Err(Error::ApprovalFiled {
        id: a.id,
        action: a.action,
        permission: a.permission,
    })
}

/// Approves a pending request and runs its action once, as `op` (who holds its permission
/// and did not file it). Returns the request as EXECUTED with the action's result; when the
/// action fails, the request is recorded FAILED and the action's error is returned.
pub async fn approve(env: &Env<'_>, op: &Operator, id: uuid::Uuid) -> Result<Approval> {
    let (approved, request) = store::claim(env.db, op, id).await?;
    let outcome = run::execute(env, op, &request).await;
    let done = store::complete(env.db, op, &approved, outcome.as_ref()).await?;
    match outcome {
        Ok(_) => Ok(done),
        Err(e) => Err(e),
    }
}
