//! The task model: the row, list filters, a new task and a patch.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::validate::{check_object, long_text, text};
use crate::db::Row;
use crate::error::Result;
use crate::model::{TaskPriority, TaskStatus};

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_date: Option<NaiveDateTime>,
    pub metadata: serde_json::Value,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

pub(crate) const COLS: &str = r#"t."id", t."project_id", t."assignee_id", t."title", t."description", t."status"::text AS status,
    t."priority"::text AS priority, t."due_date", COALESCE(t."metadata", '{}') AS metadata, t."created_at", t."updated_at", t."deleted_at""#;

impl Task {
    /// A row of [`COLS`].
    pub(crate) fn from_row(r: &Row) -> Result<Task> {
        r.decode()
    }

    /// True when past its due date and not finished.
    pub fn overdue(&self, at: NaiveDateTime) -> bool {
        self.due_date.map(|d| d < at).unwrap_or(false)
            && !matches!(self.status, TaskStatus::DONE | TaskStatus::CANCELLED)
    }
}

/// List filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TaskFilter {
    pub project_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    /// Only tasks past their due date that are not DONE or CANCELLED.
    #[serde(default)]
    pub overdue: bool,
    pub due_before: Option<NaiveDateTime>,
    /// Substring of the title (case-insensitive).
    pub search: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
}

/// A new task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct NewTask {
    pub project_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<NaiveDateTime>,
    pub metadata: Option<serde_json::Value>,
}

/// Changes to a task; `None` leaves a field as it is, `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub assignee_id: Option<Option<Uuid>>,
    pub due_date: Option<Option<NaiveDateTime>>,
    pub metadata: Option<serde_json::Value>,
}

impl TaskPatch {
    /// True when the patch touches only fields an assignee may review (status, metadata).
    pub fn is_review_only(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.priority.is_none()
            && self.assignee_id.is_none()
            && self.due_date.is_none()
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.is_review_only() && self.status.is_none() && self.metadata.is_none()
    }

    pub(super) fn apply(&self, t: &Task) -> Result<Task> {
        let mut n = t.clone();
        if let Some(v) = &self.title {
            n.title = text("title", v, 255)?;
        }
        if let Some(v) = &self.description {
            n.description = v
                .as_deref()
                .map(|d| long_text("description", d, 100_000))
                .transpose()?;
        }
        if let Some(v) = self.status {
            n.status = v;
        }
        if let Some(v) = self.priority {
            n.priority = v;
        }
        if let Some(v) = self.assignee_id {
            n.assignee_id = v;
        }
        if let Some(v) = self.due_date {
            n.due_date = v.map(crate::db::truncate_ms);
        }
        if let Some(v) = &self.metadata {
            n.metadata = check_object("metadata", v.clone())?;
        }
        Ok(n)
    }
}
