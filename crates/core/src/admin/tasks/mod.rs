//! Tasks: list with filters, show, create, edit (one or many in one transaction), soft delete
//! and restore. `tasks.write` edits any task; `tasks.review_own` lets an assignee change the
//! status and metadata of their own tasks; `tasks.read` / `tasks.read_own` for viewing.

//!
//! The types are in `model.rs`, bulk edits in `bulk.rs`.

mod bulk;
mod model;
pub(crate) mod power;

use uuid::Uuid;

use super::validate::{check_object, long_text, text};
use super::{limit, orgs, page_of as page, snapshot, Cursor, Page, Where};
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db, Tx};
use crate::error::{Error, Result};
use crate::model::{TaskPriority, TaskStatus};
use crate::params;

pub use bulk::{bulk_update, BulkReport};
pub(super) use model::COLS;
pub use model::{NewTask, Task, TaskFilter, TaskPatch};

fn can_read(op: &Operator, t: &Task) -> bool {
    op.can(perm::TASKS_READ) || (op.can(perm::TASKS_READ_OWN) && t.assignee_id == Some(op.user_id))
}

fn check_edit(op: &Operator, t: &Task, patch: &TaskPatch) -> Result<()> {
    if op.can(perm::TASKS_WRITE) {
        return Ok(());
    }
    if op.can(perm::TASKS_REVIEW_OWN) && t.assignee_id == Some(op.user_id) {
        if patch.is_review_only() {
            return Ok(());
        }
        return Err(Error::Forbidden {
            permission: perm::TASKS_WRITE.into(),
        });
    }
    Err(Error::Forbidden {
        permission: if op.can(perm::TASKS_REVIEW_OWN) {
            perm::TASKS_WRITE
        } else {
            perm::TASKS_REVIEW_OWN
        }
        .into(),
    })
}

pub(super) async fn load(tx: &mut Tx, id: Uuid) -> Result<Task> {
    let sql = format!(r#"SELECT {COLS} FROM "Task" t WHERE t."id" = $1"#);
    let row = tx
        .query_opt(&sql, &params![id])
        .await?
        .ok_or_else(|| Error::not_found("task", id))?;
    Task::from_row(&row)
}

/// `t` if the operator may see it by their role in its organization (else not found, as the
/// row policy hides it), with their task powers for the checks that follow. The RBAC check
/// comes first, so a missing permission is named as before.
async fn visible(tx: &mut Tx, op: &Operator, t: Task) -> Result<(power::TaskPower, Task)> {
    let mut pw = power::TaskPower::load(tx, op).await?;
    if !pw.can_see(tx, &t).await? {
        return Err(Error::not_found("task", t.id));
    }
    Ok((pw, t))
}

pub(super) async fn check_assignee(tx: &mut Tx, assignee: Option<Uuid>) -> Result<()> {
    if let Some(a) = assignee {
        let ok = tx
            .query_opt(
                r#"SELECT 1 AS x FROM "User" WHERE "id" = $1 AND "deleted_at" IS NULL"#,
                &params![a],
            )
            .await?
            .is_some();
        if !ok {
            return Err(Error::invalid(
                "assignee",
                format!("user {a} does not exist or is deleted"),
            ));
        }
    }
    Ok(())
}

/// Lists tasks, newest first, with keyset paging.
pub async fn list(
    db: &Db,
    op: &Operator,
    f: &TaskFilter,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<Task>> {
    if !op.can(perm::TASKS_READ) {
        op.require(perm::TASKS_READ_OWN)?;
    }
    let lim = limit(lim)?;
    let mut w = Where::default();
    if !op.can(perm::TASKS_READ) {
        w.push(|p| format!(r#"t."assignee_id" = {p}"#), op.user_id);
    }
    power::scope(op, &mut w);
    if !f.include_deleted {
        w.clauses.push(r#"t."deleted_at" IS NULL"#.into());
    }
    if let Some(p) = f.project_id {
        w.push(|x| format!(r#"t."project_id" = {x}"#), p);
    }
    if let Some(o) = f.organization_id {
        w.push(|x| format!(r#"t."project_id" IN (SELECT "id" FROM "Project" WHERE "organization_id" = {x})"#), o);
    }
    if let Some(s) = f.status {
        w.push(|x| format!(r#"t."status" = {x}::"TaskStatus""#), s);
    }
    if let Some(a) = f.assignee_id {
        w.push(|x| format!(r#"t."assignee_id" = {x}"#), a);
    }
    if f.overdue {
        w.push(
            |x| format!(r#"t."due_date" < {x} AND t."status" NOT IN ('DONE', 'CANCELLED')"#),
            now(),
        );
    }
    if let Some(d) = f.due_before {
        w.push(|x| format!(r#"t."due_date" < {x}"#), d);
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        w.push(
            |x| format!(r#"t."title" ILIKE {x} ESCAPE '\'"#),
            super::like_pattern(s.trim()),
        );
    }
    if let Some(c) = after {
        w.before(r#"t."created_at""#, r#"t."id""#, &Cursor::decode(c)?);
    }
    let sql = format!(
        r#"SELECT {COLS} FROM "Task" t {} ORDER BY t."created_at" DESC, t."id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let mut tx = db.begin_read().await?;
    let rows = tx.query(&sql, &w.params).await?;
    tx.rollback().await?;
    let items = rows
        .iter()
        .map(Task::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, lim, |t| Cursor {
        ts: t.created_at,
        id: t.id,
    }))
}

/// One task.
pub async fn get(db: &Db, op: &Operator, id: Uuid) -> Result<Task> {
    if !op.can(perm::TASKS_READ) {
        op.require(perm::TASKS_READ_OWN)?;
    }
    let mut tx = db.begin_read().await?;
    let t = load(&mut tx, id).await?;
    if !can_read(op, &t) {
        return Err(Error::Forbidden {
            permission: perm::TASKS_READ.into(),
        });
    }
    let t = visible(&mut tx, op, t).await?.1;
    tx.rollback().await?;
    Ok(t)
}

/// Creates a task in a project.
pub async fn create(db: &Db, op: &Operator, n: &NewTask) -> Result<Task> {
    op.require(perm::TASKS_WRITE)?;
    let title = text("title", &n.title, 255)?;
    let description = n
        .description
        .as_deref()
        .map(|d| long_text("description", d, 100_000))
        .transpose()?;
    let metadata = check_object(
        "metadata",
        n.metadata.clone().unwrap_or_else(|| serde_json::json!({})),
    )?;
    let mut tx = db.begin().await?;
    let (deleted_at, org): (Option<chrono::NaiveDateTime>, Uuid) = tx
        .query_opt_as(
            r#"SELECT "deleted_at", "organization_id" FROM "Project" WHERE "id" = $1"#,
            &params![n.project_id],
        )
        .await?
        .ok_or_else(|| Error::not_found("project", n.project_id))?;
    orgs::power::check(&mut tx, op, org, orgs::power::MANAGE, || {
        Error::not_found("project", n.project_id)
    })
    .await?;
    if deleted_at.is_some() {
        return Err(Error::invalid("project", "is deleted; restore it first"));
    }
    check_assignee(&mut tx, n.assignee_id).await?;
    let t0 = now();
    let task = Task {
        id: Uuid::new_v4(),
        project_id: n.project_id,
        assignee_id: n.assignee_id,
        title,
        description,
        status: n.status.unwrap_or(TaskStatus::TODO),
        priority: n.priority.unwrap_or(TaskPriority::MEDIUM),
        due_date: n.due_date.map(crate::db::truncate_ms),
        metadata,
        created_at: t0,
        updated_at: t0,
        deleted_at: None,
    };
    tx.execute(
        r#"INSERT INTO "Task" ("id", "project_id", "assignee_id", "title", "description", "status", "priority", "due_date", "metadata", "created_at", "updated_at")
           VALUES ($1, $2, $3, $4, $5, $6::"TaskStatus", $7::"TaskPriority", $8, $9, $10, $10)"#,
        &params![task.id, task.project_id, task.assignee_id, task.title.as_str(), task.description.clone(), task.status, task.priority, task.due_date, task.metadata.clone(), t0],
    )
    .await?;
    audit::record(
        &mut tx,
        op,
        Entry {
            action: "TASK_CREATE",
            table: "Task",
            target_id: Some(task.id),
            old: None,
            new: Some(snapshot(&task)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(task)
}

/// Writes the fields of `n` that differ from `o` (and `updated_at`): an operator's database role
/// may update only some columns (an assignee: status and metadata), and Row-Level Security may
/// hide the row, which is refused here instead of reported as a change.
pub(super) async fn write(tx: &mut Tx, o: &Task, n: &Task) -> Result<()> {
    let mut sets = vec![r#""updated_at" = $2"#.to_owned()];
    let mut p = params![n.id, n.updated_at];
    let mut set = |col: &str, cast: &str, v: crate::db::Value, sets: &mut Vec<String>| {
        p.push(v);
        sets.push(format!(r#""{col}" = ${}{cast}"#, p.len()));
    };
    if n.title != o.title {
        set("title", "", n.title.as_str().into(), &mut sets);
    }
    if n.description != o.description {
        set("description", "", n.description.clone().into(), &mut sets);
    }
    if n.status != o.status {
        set("status", r#"::"TaskStatus""#, n.status.into(), &mut sets);
    }
    if n.priority != o.priority {
        set(
            "priority",
            r#"::"TaskPriority""#,
            n.priority.into(),
            &mut sets,
        );
    }
    if n.assignee_id != o.assignee_id {
        set("assignee_id", "", n.assignee_id.into(), &mut sets);
    }
    if n.due_date != o.due_date {
        set("due_date", "", n.due_date.into(), &mut sets);
    }
    if n.metadata != o.metadata {
        set("metadata", "", n.metadata.clone().into(), &mut sets);
    }
    if n.deleted_at != o.deleted_at {
        set("deleted_at", "", n.deleted_at.into(), &mut sets);
    }
    let sql = format!(r#"UPDATE "Task" SET {} WHERE "id" = $1"#, sets.join(", "));
    if tx.execute(&sql, &p).await? == 0 {
        return Err(power::refused());
    }
    Ok(())
}

/// Applies a patch inside an existing transaction; returns (old, new). Permission-checked and
/// audited in `tx`. Writes nothing (and no audit row) when the patch changes nothing.
pub async fn update_in(
    tx: &mut Tx,
    op: &Operator,
    id: Uuid,
    patch: &TaskPatch,
) -> Result<(Task, Task)> {
    if !op.can(perm::TASKS_WRITE) {
        op.require(perm::TASKS_REVIEW_OWN)?;
    }
    let old = load(tx, id).await?;
    check_edit(op, &old, patch)?;
    let (mut pw, old) = visible(tx, op, old).await?;
    let Some(new) = plan_update(op, &old, patch)? else {
        return Ok((old.clone(), old));
    };
    pw.require_write(tx, &old, &new).await?;
    if new.assignee_id != old.assignee_id {
        check_assignee(tx, new.assignee_id).await?;
    }
    write(tx, &old, &new).await?;
    let (a, b) = audit_snapshots(&old, &new);
    audit::record_change(tx, op, "TASK_UPDATE", "Task", id, &a, &b).await?;
    Ok((old, new))
}

/// Plans one edit without touching the store: checks that `op` may make it on `old` and that
/// its values are valid, and returns the task as it would be written (`updated_at` set), or
/// `None` when the patch changes nothing. The assignee's existence is checked by the caller.
pub fn plan_update(op: &Operator, old: &Task, patch: &TaskPatch) -> Result<Option<Task>> {
    if !op.can(perm::TASKS_WRITE) {
        op.require(perm::TASKS_REVIEW_OWN)?;
    }
    check_edit(op, old, patch)?;
    if old.deleted_at.is_some() {
        return Err(Error::invalid(
            "task",
            "is deleted; restore it before editing",
        ));
    }
    let mut new = patch.apply(old)?;
    if new == *old {
        return Ok(None);
    }
    new.updated_at = now();
    Ok(Some(new))
}

/// The audit values of an edit: the changed fields only (`updated_at` left out), secrets
/// redacted. Both objects are empty when nothing an operator sees changed.
pub fn audit_values(old: &Task, new: &Task) -> (serde_json::Value, serde_json::Value) {
    let (a, b) = audit_snapshots(old, new);
    audit::diff(&a, &b)
}

/// Both tasks as audit snapshots, without `updated_at`.
fn audit_snapshots(old: &Task, new: &Task) -> (serde_json::Value, serde_json::Value) {
    let mut a = snapshot(old);
    let mut b = snapshot(new);
    for v in [&mut a, &mut b] {
        if let Some(m) = v.as_object_mut() {
            m.remove("updated_at");
        }
    }
    (a, b)
}

/// Applies a patch to one task in its own transaction.
pub async fn update(db: &Db, op: &Operator, id: Uuid, patch: &TaskPatch) -> Result<Task> {
    let mut tx = db.begin().await?;
    let (_, new) = update_in(&mut tx, op, id, patch).await?;
    tx.commit().await?;
    Ok(new)
}

async fn set_deleted(db: &Db, op: &Operator, id: Uuid, deleted: bool) -> Result<Task> {
    op.require(perm::TASKS_WRITE)?;
    let mut tx = db.begin().await?;
    let old = load(&mut tx, id).await?;
    let (mut pw, old) = visible(&mut tx, op, old).await?;
    if old.deleted_at.is_some() == deleted {
        return Err(Error::conflict(
            "task",
            if deleted {
                "the task is already deleted"
            } else {
                "the task is not deleted"
            },
        ));
    }
    let mut new = old.clone();
    new.deleted_at = if deleted { Some(now()) } else { None };
    new.updated_at = now();
    pw.require_write(&mut tx, &old, &new).await?;
    write(&mut tx, &old, &new).await?;
    let action = if deleted {
        "TASK_DELETE"
    } else {
        "TASK_RESTORE"
    };
    audit::record(
        &mut tx,
        op,
        Entry {
            action,
            table: "Task",
            target_id: Some(id),
            old: Some(serde_json::json!({ "deleted_at": snapshot(&old.deleted_at) })),
            new: Some(serde_json::json!({ "deleted_at": snapshot(&new.deleted_at) })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Soft-deletes a task.
pub async fn delete(db: &Db, op: &Operator, id: Uuid) -> Result<Task> {
    set_deleted(db, op, id, true).await
}

/// Restores a soft-deleted task.
pub async fn restore(db: &Db, op: &Operator, id: Uuid) -> Result<Task> {
    set_deleted(db, op, id, false).await
}
