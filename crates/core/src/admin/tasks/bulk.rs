//! Bulk edits: one patch applied to many tasks in one transaction.

use serde::Serialize;
use uuid::Uuid;

use super::{check_assignee, Task, TaskPatch, COLS};
use crate::admin::validate::{check_object, long_text, text};
use crate::admin::{snapshot, Where};
use crate::audit::{self, Entry};
use crate::auth::{perm, Operator};
use crate::db::{now, Db};
use crate::error::{Error, Result};

/// Result of a bulk update.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BulkReport {
    pub updated: u64,
    pub unchanged: u64,
}

/// Applies one patch to many tasks in ONE transaction (all or nothing), one audit row per
/// changed task. Reports the tasks done (phase `updating tasks`) as it goes; a cancel rolls it all back.
pub async fn bulk_update(
    db: &Db,
    op: &Operator,
    ids: &[Uuid],
    patch: &TaskPatch,
    work: crate::work::Work<'_>,
) -> Result<BulkReport> {
    op.require(perm::TASKS_WRITE)?;
    if patch.is_empty() {
        return Err(Error::invalid(
            "changes",
            "nothing to change: give at least one field",
        ));
    }
    if ids.is_empty() {
        return Err(Error::invalid("ids", "no task ids given"));
    }
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let total = unique.len() as u64;
    let mut rep = BulkReport::default();
    let mut tx = db.begin().await?;
    if let Some(Some(a)) = patch.assignee_id {
        check_assignee(&mut tx, Some(a)).await?;
    }
    let mut pw = super::power::TaskPower::load(&mut tx, op).await?;
    let t0 = now();
    for chunk in unique.chunks(500) {
        work.check()?;
        let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            r#"SELECT {COLS} FROM "Task" t WHERE t."id" IN ({})"#,
            ph.join(", ")
        );
        let params: Vec<crate::db::Value> = chunk.iter().map(|i| (*i).into()).collect();
        let rows: Vec<Task> = tx.query_as(&sql, &params).await?;
        if rows.len() != chunk.len() {
            let found: std::collections::HashSet<Uuid> = rows.iter().map(|t| t.id).collect();
            let missing = chunk
                .iter()
                .find(|i| !found.contains(i))
                .copied()
                .unwrap_or_default();
            return Err(Error::not_found("task", missing));
        }
        let mut changed = Vec::new();
        let mut entries = Vec::new();
        for old in rows {
            if !pw.can_see(&mut tx, &old).await? {
                return Err(Error::not_found("task", old.id));
            }
            if old.deleted_at.is_some() {
                return Err(Error::invalid(
                    "task",
                    format!("{} is deleted; restore it before editing", old.id),
                ));
            }
            let new = patch.apply(&old)?;
            if new == old {
                rep.unchanged += 1;
                continue;
            }
            pw.require_write(&mut tx, &old, &new).await?;
            let (a, b) = audit::diff(&snapshot(&old), &snapshot(&new));
            changed.push(old.id);
            entries.push(Entry {
                action: "TASK_BULK_UPDATE",
                table: "Task",
                target_id: Some(old.id),
                old: Some(a),
                new: Some(b),
            });
        }
        if !changed.is_empty() {
            // Every changed row gets the same new values: one UPDATE per chunk.
            let mut w = Where::default();
            let mut sets = Vec::new();
            if let Some(v) = &patch.title {
                sets.push(format!(r#""title" = {}"#, w.param(text("title", v, 255)?)));
            }
            if let Some(v) = &patch.description {
                let d = v
                    .as_deref()
                    .map(|d| long_text("description", d, 100_000))
                    .transpose()?;
                sets.push(format!(r#""description" = {}"#, w.param(d)));
            }
            if let Some(v) = patch.status {
                sets.push(format!(r#""status" = {}::"TaskStatus""#, w.param(v)));
            }
            if let Some(v) = patch.priority {
                sets.push(format!(r#""priority" = {}::"TaskPriority""#, w.param(v)));
            }
            if let Some(v) = patch.assignee_id {
                sets.push(format!(r#""assignee_id" = {}"#, w.param(v)));
            }
            if let Some(v) = patch.due_date {
                sets.push(format!(
                    r#""due_date" = {}"#,
                    w.param(v.map(crate::db::truncate_ms))
                ));
            }
            if let Some(v) = &patch.metadata {
                sets.push(format!(
                    r#""metadata" = {}"#,
                    w.param(check_object("metadata", v.clone())?)
                ));
            }
            sets.push(format!(r#""updated_at" = {}"#, w.param(t0)));
            let ids: Vec<String> = changed.iter().map(|id| w.param(*id)).collect();
            let sql = format!(
                r#"UPDATE "Task" SET {} WHERE "id" IN ({})"#,
                sets.join(", "),
                ids.join(", ")
            );
            tx.execute(&sql, &w.params).await?;
            rep.updated += changed.len() as u64;
            audit::record_many(&mut tx, op, entries).await?;
        }
        work.report("updating tasks", rep.updated + rep.unchanged, total);
    }
    tx.commit().await?;
    Ok(rep)
}
