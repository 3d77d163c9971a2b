//! Push: each outbox entry in its own PostgreSQL transaction.
//!
//! 1. `INSERT INTO "SyncMutation" … ON CONFLICT DO NOTHING` under the mutation id comes first:
//!    when the row already exists, a previous attempt committed (the client died before it
//!    recorded the outcome), so nothing is applied again and the stored outcome is replayed.
//! 2. The task is locked (`FOR UPDATE`) and each changed field merges 3-way: server == base →
//!    apply mine; server == mine → nothing to do; otherwise a conflict (base, mine, theirs) that
//!    is not applied. A task deleted on the server is a conflict on every field.
//! 3. The clean fields go through the core operation `tasks::update_in` as the online operator
//!    (permission check, validation, AuditLog row); that audit row's `new_value` gets a `_sync`
//!    object with the mutation id, the original local time and who edited offline. A refusal
//!    (permission lost, invalid value) is rolled back to a savepoint and kept as a rejection.
//! 4. The outcome is stored in `SyncMutation` and the transaction commits; then the cache marks
//!    the entry, stores its conflicts and refreshes the row from the server, in one cache
//!    transaction.

use ncy_core::admin::tasks::Task;
use ncy_core::auth::{perm, Operator};
use ncy_core::db::{format_ts, now, Db, Row, Tx};
use ncy_core::model::{TaskPriority, TaskStatus};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as J};
use uuid::Uuid;

use crate::cache::{set_state, Cache};
use crate::outbox::{self, patch_from, task_json, Entry};
use crate::tables;
use crate::Ctl;

/// One field that could not be merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldConflict {
    pub field: String,
    pub base: J,
    pub mine: J,
    pub theirs: J,
}

/// The outcome of one mutation, as stored server-side in `SyncMutation.result`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub applied: Map<String, J>,
    pub conflicts: Vec<FieldConflict>,
    pub reason: Option<String>,
    /// True when the server had already recorded this mutation (a retry).
    #[serde(default)]
    pub replayed: bool,
}

/// What a push did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PushReport {
    pub pushed: u64,
    pub applied: u64,
    pub noop: u64,
    pub conflicts: u64,
    pub rejected: u64,
    /// Mutations the server already had (a retry after a crash): not applied again.
    pub replayed: u64,
}

const TASK_COLS: &str = r#"t."id", t."project_id", t."assignee_id", t."title", t."description", t."status"::text AS status,
    t."priority"::text AS priority, t."due_date", t."metadata", t."created_at", t."updated_at", t."deleted_at""#;

/// Reads a task row (the columns of `TASK_COLS`).
pub fn task_from_row(r: &Row) -> Result<Task> {
    Ok(Task {
        id: r.uuid("id")?,
        project_id: r.uuid("project_id")?,
        assignee_id: r.opt_uuid("assignee_id")?,
        title: r.text("title")?,
        description: r.opt_text("description")?,
        status: TaskStatus::parse(&r.text("status")?)?,
        priority: TaskPriority::parse(&r.text("priority")?)?,
        due_date: r.opt_ts("due_date")?,
        metadata: r.opt_json("metadata")?.unwrap_or_else(|| json!({})),
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
        deleted_at: r.opt_ts("deleted_at")?,
    })
}

/// Loads a task inside `tx`, locking it on PostgreSQL.
pub async fn load_task(tx: &mut Tx, id: Uuid, lock: bool) -> Result<Option<Task>> {
    let sql = format!(
        r#"SELECT {TASK_COLS} FROM "Task" t WHERE t."id" = $1{}"#,
        if lock { " FOR UPDATE" } else { "" }
    );
    tx.query_opt(&sql, &params![id])
        .await?
        .map(|r| task_from_row(&r))
        .transpose()
}

/// The 3-way merge of one entry against the server's task (None: deleted on the server).
pub fn merge(e: &Entry, server: Option<&Task>) -> (Map<String, J>, Vec<FieldConflict>) {
    let mut apply = Map::new();
    let mut conflicts = Vec::new();
    let theirs = server.filter(|t| t.deleted_at.is_none()).map(task_json);
    for (f, mine) in &e.new {
        let base = e.base.get(f).cloned().unwrap_or(J::Null);
        match &theirs {
            None => conflicts.push(FieldConflict {
                field: f.clone(),
                base,
                mine: mine.clone(),
                theirs: J::Null,
            }),
            Some(s) => {
                let sv = s.get(f).cloned().unwrap_or(J::Null);
                if sv == base {
                    apply.insert(f.clone(), mine.clone());
                } else if &sv != mine {
                    conflicts.push(FieldConflict {
                        field: f.clone(),
                        base,
                        mine: mine.clone(),
                        theirs: sv,
                    });
                }
            }
        }
    }
    (apply, conflicts)
}

fn refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Forbidden { .. }
            | Error::Invalid { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. }
    )
}

/// Applies one mutation on the server in its own transaction (idempotent by mutation id).
pub async fn apply_one(server: &Db, op: &Operator, e: &Entry, ctl: Ctl<'_>) -> Result<Outcome> {
    let mut tx = server.begin().await?;
    let fresh = tx
        .execute(
            r#"INSERT INTO "SyncMutation" ("id", "table_name", "row_id", "status", "operator_id", "local_time")
               VALUES ($1, $2, $3, 'noop', $4, $5) ON CONFLICT ("id") DO NOTHING"#,
            &params![e.mutation_id, e.table.as_str(), e.row_id, op.user_id, e.local_time],
        )
        .await?;
    if fresh == 0 {
        let r = tx
            .query_one(
                r#"SELECT "result" FROM "SyncMutation" WHERE "id" = $1"#,
                &params![e.mutation_id],
            )
            .await?;
        tx.rollback().await?;
        let mut o: Outcome = serde_json::from_value(r.opt_json("result")?.unwrap_or(J::Null))
            .map_err(|err| {
                Error::db(format!(
                    "stored outcome of mutation {} is unreadable: {err}",
                    e.mutation_id
                ))
            })?;
        o.replayed = true;
        return Ok(o);
    }
    if e.table != "Task" {
        return Err(Error::invalid(
            "outbox",
            format!("mutations of {} are not supported", e.table),
        ));
    }
    let server_task = load_task(&mut tx, e.row_id, true).await?;
    let (apply, conflicts) = merge(e, server_task.as_ref());
    let mut o = Outcome {
        status: "noop".into(),
        applied: Map::new(),
        conflicts,
        reason: None,
        replayed: false,
    };
    if server_task
        .as_ref()
        .map(|t| t.deleted_at.is_some())
        .unwrap_or(true)
    {
        o.reason = Some("the task was deleted on the server while you edited it offline".into());
    } else if !o.conflicts.is_empty() {
        o.reason = Some("the server changed these fields since your copy".into());
    }
    if !apply.is_empty() {
        // The audit row update_in writes is found as the one that was not there before (the
        // task row is locked, so no other writer adds one meanwhile).
        let before: Vec<String> = tx
            .query(
                r#"SELECT "id"::text AS id FROM "AuditLog" WHERE "target_table" = 'Task' AND "target_id" = $1 AND "action" = 'TASK_UPDATE'"#,
                &params![e.row_id],
            )
            .await?
            .iter()
            .map(|r| r.text("id"))
            .collect::<Result<_>>()?;
        tx.execute("SAVEPOINT ncy_sync_apply", &[]).await?;
        let patch = patch_from(&apply)?;
        match ncy_core::admin::tasks::update_in(&mut tx, op, e.row_id, &patch).await {
            Ok(_) => {
                tx.execute(
                    r#"UPDATE "AuditLog" SET "new_value" = COALESCE("new_value", '{}'::jsonb) || jsonb_build_object('_sync', $2::jsonb)
                       WHERE "target_id" = $1 AND "target_table" = 'Task' AND "action" = 'TASK_UPDATE' AND "id" <> ALL($3::uuid[])"#,
                    &params![
                        e.row_id,
                        json!({
                            "mutation_id": e.mutation_id,
                            "local_time": format_ts(&e.local_time),
                            "edited_by": e.operator_email,
                            "edited_by_id": e.operator_id,
                        }),
                        before
                    ],
                )
                .await?;
                o.applied = apply;
            }
            Err(err) if refusal(&err) => {
                tx.execute("ROLLBACK TO SAVEPOINT ncy_sync_apply", &[])
                    .await?;
                let theirs = server_task.as_ref().map(task_json).unwrap_or_default();
                for (f, mine) in apply {
                    o.conflicts.push(FieldConflict {
                        base: e.base.get(&f).cloned().unwrap_or(J::Null),
                        theirs: theirs.get(&f).cloned().unwrap_or(J::Null),
                        field: f,
                        mine,
                    });
                }
                o.status = "rejected".into();
                o.reason = Some(format!("the server refused the change: {err}"));
            }
            Err(err) => return Err(err),
        }
    }
    if o.status != "rejected" {
        o.status = if !o.conflicts.is_empty() {
            "conflict"
        } else if !o.applied.is_empty() {
            "applied"
        } else {
            "noop"
        }
        .into();
    }
    let result = serde_json::to_value(&o).map_err(|err| Error::db(err.to_string()))?;
    tx.execute(
        r#"UPDATE "SyncMutation" SET "status" = $2, "result" = $3 WHERE "id" = $1"#,
        &params![e.mutation_id, o.status.as_str(), result],
    )
    .await?;
    ctl.fault("push:before-commit")?;
    tx.commit().await?;
    ctl.fault("push:after-commit")?;
    Ok(o)
}

/// Records an outcome in the cache and refreshes the row from the server, in one cache
/// transaction (a repeat is harmless: only a pending entry is updated).
async fn record_local(
    server: &Db,
    cache: &Cache,
    e: &Entry,
    o: &Outcome,
    ctl: Ctl<'_>,
) -> Result<()> {
    let slice = cache.slice().await?;
    let mut stx = server.begin().await?;
    let rows = crate::pull::refetch(
        &mut stx,
        &slice,
        &tables::TASK,
        &[vec![e.row_id.to_string()]],
    )
    .await?;
    stx.rollback().await?;
    let mut ltx = cache.db.begin().await?;
    crate::cache::writer_on(&mut ltx).await?;
    let n = ltx
        .execute(
            r#"UPDATE "SyncOutbox" SET "status" = $2, "pushed_at" = $3 WHERE "mutation_id" = $1 AND "status" = 'pending'"#,
            &params![e.mutation_id, o.status.as_str(), now()],
        )
        .await?;
    if n > 0 {
        for c in &o.conflicts {
            ltx.execute(
                r#"INSERT INTO "SyncConflict" ("id", "mutation_id", "table_name", "row_id", "field", "base", "mine", "theirs", "reason", "created_at")
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                &params![
                    Uuid::new_v4(),
                    e.mutation_id,
                    e.table.as_str(),
                    e.row_id,
                    c.field.as_str(),
                    c.base.clone(),
                    c.mine.clone(),
                    c.theirs.clone(),
                    o.reason.clone().unwrap_or_else(|| "conflict".into()),
                    now()
                ],
            )
            .await?;
        }
    }
    if rows.is_empty() {
        ltx.execute(r#"DELETE FROM "Task" WHERE "id" = $1"#, &params![e.row_id])
            .await?;
    } else {
        crate::initial::store_rows(&mut ltx, &tables::TASK, &rows)?;
    }
    outbox::rebase(&mut ltx, Some(&[e.row_id.to_string()])).await?;
    set_state(&mut ltx, "last_push_at", &format_ts(&now())).await?;
    crate::cache::writer_off(&mut ltx).await?;
    ctl.fault("push:before-local-commit")?;
    ltx.commit().await?;
    Ok(())
}

/// Pushes every pending outbox entry, oldest first, as the online operator.
pub async fn push(server: &Db, cache: &Cache, op: &Operator, ctl: Ctl<'_>) -> Result<PushReport> {
    op.require(perm::SYNC_RUN)?;
    let entries = outbox::pending(cache).await?;
    let total = entries.len() as u64;
    let mut rep = PushReport::default();
    for (i, e) in entries.iter().enumerate() {
        ctl.check_cancel()?;
        let o = apply_one(server, op, e, ctl).await?;
        record_local(server, cache, e, &o, ctl).await?;
        rep.pushed += 1;
        if o.replayed {
            rep.replayed += 1;
        }
        match o.status.as_str() {
            "applied" => rep.applied += 1,
            "conflict" => rep.conflicts += 1,
            "rejected" => rep.rejected += 1,
            _ => rep.noop += 1,
        }
        ctl.report("push", i as u64 + 1, total);
    }
    Ok(rep)
}
