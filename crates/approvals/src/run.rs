//! Running an approved request's action: the same functions the CLI and the window call
//! directly when no approval is needed.

use std::path::PathBuf;

use ncy_backup::{BackupRef, Backups, RestoreOptions, Work};
use ncy_core::admin::{orgs, tasks, users};
use ncy_core::auth::Operator;
use ncy_core::db::{Db, Target};
use ncy_core::{Error, Result};
use ncy_gdpr::erase::{self, ErasureOptions};

use crate::model::Request;

/// What running an action may need beyond the store: the target it was opened from (backups
/// restore through pg_restore) and the backup folder.
pub struct Env<'a> {
    pub db: &'a Db,
    pub target: &'a Target,
    /// The backup folder (restores refuse recorded files outside it).
    pub backup_dir: Option<PathBuf>,
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::db(format!("result: {e}")))
}

/// The request as it is filed, checked now so that the approver is not asked to run what
/// would be refused anyway; `None` when it needs no approval after all.
/// - An erasure's confirmation is checked against the subject's email and not kept (no
///   personal data waits in the queue). A repeated sweep of a subject already anonymized
///   erases nothing new and runs at once.
/// - A user is named by id.
pub(crate) async fn prepare(db: &Db, op: &Operator, request: &Request) -> Result<Option<Request>> {
    Ok(Some(match request {
        Request::GdprErase {
            request_id,
            confirm,
            backup_retention_days,
        } => {
            let detail = ncy_gdpr::request::show(db, op, *request_id).await?;
            let subject = detail.subject.ok_or_else(|| {
                Error::conflict(
                    "user",
                    format!("request {request_id} has no subject any more"),
                )
            })?;
            if subject.anonymized {
                return Ok(None);
            }
            if !confirm.trim().eq_ignore_ascii_case(&subject.email) {
                return Err(Error::invalid(
                    "confirm",
                    "does not match the subject's email; type the subject's email exactly to confirm the erasure",
                ));
            }
            Request::GdprErase {
                request_id: *request_id,
                confirm: String::new(),
                backup_retention_days: *backup_retention_days,
            }
        }
        Request::UserDelete { user } => Request::UserDelete {
            user: users::get(db, op, user).await?.user.id.to_string(),
        },
        other => other.clone(),
    }))
}

pub(crate) async fn execute(
    env: &Env<'_>,
    op: &Operator,
    request: &Request,
) -> Result<serde_json::Value> {
    let db = env.db;
    match request {
        Request::GdprErase {
            request_id,
            backup_retention_days,
            ..
        } => {
            // Confirmed when filed; the approver confirms with the subject's email as it is.
            let confirm = ncy_gdpr::request::show(db, op, *request_id)
                .await?
                .subject
                .map(|s| s.email)
                .unwrap_or_default();
            let out = erase::erase(
                db,
                op,
                *request_id,
                &confirm,
                &ErasureOptions {
                    backup_retention_days: *backup_retention_days,
                },
                ncy_core::Work::none(),
            )
            .await?;
            json(&out.receipt)
        }
        Request::OrgDelete { org } => json(&orgs::delete(db, op, org).await?),
        Request::UserDelete { user } => json(&users::delete(db, op, user).await?),
        Request::TaskBulkUpdate { ids, patch } => {
            json(&tasks::bulk_update(db, op, ids, patch, ncy_core::Work::none()).await?)
        }
        Request::BackupRestoreOver {
            backup,
            into,
            no_owner,
            tables,
            dir,
        } => {
            let b = Backups::new(db.clone(), env.target)?;
            let b = match (dir, &env.backup_dir) {
                (Some(d), _) => b.with_dir(d),
                (None, Some(d)) => b.with_dir(d),
                (None, None) => b,
            };
            let report = b
                .restore(
                    op,
                    &BackupRef::parse(backup),
                    &RestoreOptions {
                        into: into.clone(),
                        force: true,
                        no_owner: *no_owner,
                        tables: tables.clone(),
                    },
                    Work::none(),
                )
                .await?;
            json(&report)
        }
    }
}
