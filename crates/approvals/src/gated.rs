//! The destructive actions as every adapter runs them: [`gate`](crate::gate) first (filed for a
//! second operator when the settings require it), then the action. The CLI and the window call
//! these, so the rule of which action waits lives here once.

use ncy_backup::{BackupRef, Backups, RestoreOptions, RestoreReport};
use ncy_core::admin::orgs::{self, Organization};
use ncy_core::admin::tasks::{self, BulkReport, TaskPatch};
use ncy_core::admin::users::{self, User};
use ncy_core::auth::Operator;
use ncy_core::db::Db;
use ncy_core::{Result, Work};
use ncy_gdpr::erase::{self, ErasureOptions, ErasureOutcome};
use uuid::Uuid;

use crate::{gate, Request};

/// Deletes a user (soft), unless it waits for approval.
pub async fn delete_user(db: &Db, op: &Operator, user: &str) -> Result<User> {
    gate(db, op, &Request::UserDelete { user: user.into() }).await?;
    users::delete(db, op, user).await
}

/// Deletes an organization (soft), unless it waits for approval.
pub async fn delete_org(db: &Db, op: &Operator, org: &str) -> Result<Organization> {
    gate(db, op, &Request::OrgDelete { org: org.into() }).await?;
    orgs::delete(db, op, org).await
}

/// Applies one patch to many tasks in one transaction, unless it waits for approval (from
/// `approvals.bulk_min_rows` tasks).
pub async fn bulk_update_tasks(
    db: &Db,
    op: &Operator,
    ids: &[Uuid],
    patch: &TaskPatch,
    work: Work<'_>,
) -> Result<BulkReport> {
    let ask = Request::TaskBulkUpdate {
        ids: ids.to_vec(),
        patch: patch.clone(),
    };
    gate(db, op, &ask).await?;
    tasks::bulk_update(db, op, ids, patch, work).await
}

/// Erases the subject of an ERASURE request, unless it waits for approval.
pub async fn erase(
    db: &Db,
    op: &Operator,
    request_id: Uuid,
    confirm: &str,
    opts: &ErasureOptions,
    work: Work<'_>,
) -> Result<ErasureOutcome> {
    let ask = Request::GdprErase {
        request_id,
        confirm: confirm.into(),
        backup_retention_days: opts.backup_retention_days,
    };
    gate(db, op, &ask).await?;
    erase::erase(db, op, request_id, confirm, opts, work).await
}

/// Restores backup `which` (as the operator named it: an id or a file) under `opts`.
/// Replacing an existing database or file waits for approval when the settings require it;
/// a restore into a new one, or one the plan refuses (no force), runs (or fails) at once.
pub async fn restore_backup(
    b: &Backups,
    op: &Operator,
    which: &str,
    opts: &RestoreOptions,
    work: Work<'_>,
) -> Result<RestoreReport> {
    let backup = BackupRef::parse(which);
    let plan = b.restore_plan(op, &backup, opts).await?;
    if plan.allowed && plan.action == "replace" {
        let ask = Request::BackupRestoreOver {
            backup: which.into(),
            into: opts.into.clone(),
            no_owner: opts.no_owner,
            tables: opts.tables.clone(),
            dir: b.folder().ok().map(|d| d.display().to_string()),
        };
        gate(b.db(), op, &ask).await?;
    }
    b.restore(op, &backup, opts, work).await
}
