//! What an approval request asks for ([`Request`]) and how it stands ([`Approval`]).

use chrono::NaiveDateTime;
use ncy_core::admin::tasks::TaskPatch;
use ncy_core::auth::perm;
use ncy_core::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A destructive action, with everything needed to run it later exactly as asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Request {
    /// Erase the subject of a GDPR ERASURE request.
    #[serde(rename = "gdpr.erase")]
    GdprErase {
        request_id: Uuid,
        /// The subject's email, as typed by the requester to confirm. Checked when the request
        /// is filed and never stored (the erasure would have to erase it from the queue too):
        /// the approved erasure confirms with the subject's email as it is then.
        #[serde(default, skip_serializing)]
        confirm: String,
        backup_retention_days: i64,
    },
    /// Soft-delete an organization (id or slug).
    #[serde(rename = "orgs.delete")]
    OrgDelete { org: String },
    /// Soft-delete a user (id or email; filed by id, so that no email waits in the queue).
    #[serde(rename = "users.delete")]
    UserDelete { user: String },
    /// Restore a backup over an existing database or file (`force`).
    #[serde(rename = "backups.restore_over")]
    BackupRestoreOver {
        /// The backup's id or file.
        backup: String,
        into: String,
        #[serde(default)]
        no_owner: bool,
        #[serde(default)]
        tables: Vec<String>,
        /// The backup folder the requester named (else the approver's default).
        #[serde(default)]
        dir: Option<String>,
    },
    /// One patch applied to many tasks.
    #[serde(rename = "tasks.bulk_update")]
    TaskBulkUpdate { ids: Vec<Uuid>, patch: TaskPatch },
}

impl Request {
    /// The action's name, as `approvals.required` lists it.
    pub fn action(&self) -> &'static str {
        match self {
            Request::GdprErase { .. } => "gdpr.erase",
            Request::OrgDelete { .. } => "orgs.delete",
            Request::UserDelete { .. } => "users.delete",
            Request::BackupRestoreOver { .. } => "backups.restore_over",
            Request::TaskBulkUpdate { .. } => "tasks.bulk_update",
        }
    }

    /// The permission both the requester and the approver must hold.
    pub fn permission(&self) -> &'static str {
        match self {
            Request::GdprErase { .. } => perm::GDPR_HANDLE,
            Request::OrgDelete { .. } => perm::ORGS_WRITE,
            Request::UserDelete { .. } => perm::USERS_WRITE,
            Request::BackupRestoreOver { .. } => perm::BACKUPS_RESTORE,
            Request::TaskBulkUpdate { .. } => perm::TASKS_WRITE,
        }
    }

    /// What it acts on, for the queue and for spotting a request already filed.
    pub fn target(&self) -> String {
        match self {
            Request::GdprErase { request_id, .. } => request_id.to_string(),
            Request::OrgDelete { org } => org.clone(),
            Request::UserDelete { user } => user.clone(),
            Request::BackupRestoreOver { into, .. } => into.clone(),
            Request::TaskBulkUpdate { ids, .. } => format!("{} tasks", ids.len()),
        }
    }

    /// One line for the approver.
    pub fn summary(&self) -> String {
        match self {
            Request::GdprErase { request_id, .. } => {
                format!("erase the subject of GDPR request {request_id}")
            }
            Request::OrgDelete { org } => format!("delete organization {org}"),
            Request::UserDelete { user } => format!("delete user {user}"),
            Request::BackupRestoreOver {
                backup,
                into,
                tables,
                ..
            } => {
                if tables.is_empty() {
                    format!("restore backup {backup} over {into}, replacing it")
                } else {
                    format!(
                        "restore table(s) {} of backup {backup} over {into}, replacing it",
                        tables.join(", ")
                    )
                }
            }
            Request::TaskBulkUpdate { ids, patch } => format!(
                "apply {} to {} tasks",
                serde_json::to_string(patch).unwrap_or_default(),
                ids.len()
            ),
        }
    }

    /// Rows it touches when that decides whether approval is needed (bulk edits).
    pub fn rows(&self) -> Option<u64> {
        match self {
            Request::TaskBulkUpdate { ids, .. } => Some(ids.len() as u64),
            _ => None,
        }
    }

    /// The stored payload.
    pub(crate) fn to_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::db(format!("approval payload: {e}")))
    }

    /// Reads a stored payload.
    pub(crate) fn from_json(v: serde_json::Value) -> Result<Request> {
        serde_json::from_value(v).map_err(|e| {
            Error::db(format!(
                "ApprovalRequest.payload is not a request this version understands: {e}"
            ))
        })
    }
}

/// Where an approval request stands.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Waiting for a second operator.
    Pending,
    /// Approved; the action is running (or its outcome was not recorded).
    Approved,
    /// Refused by a second operator, with a reason.
    Rejected,
    /// Withdrawn by its requester.
    Cancelled,
    /// Approved and run.
    Executed,
    /// Approved, but the action failed; nothing of it was applied.
    Failed,
}

impl Status {
    /// The database value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
            Status::Cancelled => "CANCELLED",
            Status::Executed => "EXECUTED",
            Status::Failed => "FAILED",
        }
    }

    /// Parses a database or user value (case-insensitive).
    pub fn parse(s: &str) -> Result<Status> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Status::Pending,
            "APPROVED" => Status::Approved,
            "REJECTED" => Status::Rejected,
            "CANCELLED" => Status::Cancelled,
            "EXECUTED" => Status::Executed,
            "FAILED" => Status::Failed,
            _ => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "{s:?}: use pending, approved, rejected, cancelled, executed or failed"
                    ),
                ))
            }
        })
    }
}

/// One approval request as stored.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    pub id: Uuid,
    /// `gdpr.erase`, `orgs.delete`, `users.delete`, `backups.restore_over`, `tasks.bulk_update`.
    pub action: String,
    /// The permission the requester and the approver hold.
    pub permission: String,
    pub target: Option<String>,
    pub summary: String,
    /// The action's arguments, as filed.
    pub payload: serde_json::Value,
    pub status: Status,
    pub requested_by: Uuid,
    pub requested_by_email: Option<String>,
    pub requested_at: NaiveDateTime,
    pub decided_by: Option<Uuid>,
    pub decided_by_email: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub executed_at: Option<NaiveDateTime>,
    /// What the action returned.
    pub result: Option<serde_json::Value>,
    /// Why the approved action failed.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_one_the_setting_accepts() {
        let all = [
            Request::GdprErase {
                request_id: Uuid::nil(),
                confirm: "a@b.c".into(),
                backup_retention_days: 30,
            },
            Request::OrgDelete { org: "x".into() },
            Request::UserDelete { user: "x".into() },
            Request::BackupRestoreOver {
                backup: "x".into(),
                into: "y".into(),
                no_owner: false,
                tables: vec![],
                dir: None,
            },
            Request::TaskBulkUpdate {
                ids: vec![],
                patch: TaskPatch::default(),
            },
        ];
        for r in &all {
            assert!(
                ncy_core::admin::settings::APPROVAL_ACTIONS.contains(&r.action()),
                "{}",
                r.action()
            );
            let back = Request::from_json(r.to_json().unwrap()).unwrap();
            if let Request::GdprErase { confirm, .. } = &back {
                assert!(confirm.is_empty(), "the confirmation email is not stored");
            } else {
                assert_eq!(&back, r);
            }
            assert_eq!(r.to_json().unwrap()["action"], r.action());
        }
        assert_eq!(all.len(), ncy_core::admin::settings::APPROVAL_ACTIONS.len());
        for s in ["PENDING", "approved", "Rejected"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s.to_ascii_uppercase());
        }
        assert!(Status::parse("done").is_err());
    }
}
