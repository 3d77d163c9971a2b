//! Offline edits. An edit runs the same core task operation as online (`tasks::update_in`:
//! permission check, validation, local audit row) on the cache and appends an outbox entry —
//! mutation id, table, row id, base values of the changed fields, new values, operator, local
//! time — in the same cache transaction.

use chrono::NaiveDateTime;
use ncy_core::admin::tasks::{self, Task, TaskPatch};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Tx, Value};
use ncy_core::model::{TaskPriority, TaskStatus};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};
use uuid::Uuid;

use crate::cache::Cache;

/// The task fields an offline edit may change (and a push merges one by one).
pub const TASK_FIELDS: &[&str] = &[
    "title",
    "description",
    "status",
    "priority",
    "assignee_id",
    "due_date",
    "metadata",
];

/// One outbox entry.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Entry {
    pub seq: i64,
    pub mutation_id: Uuid,
    pub table: String,
    pub row_id: Uuid,
    pub base: Map<String, J>,
    pub new: Map<String, J>,
    pub operator_id: Uuid,
    pub operator_email: String,
    pub local_time: NaiveDateTime,
    pub status: String,
}

/// A task's fields as JSON (the representation stored in the outbox and compared in merges).
pub fn task_json(t: &Task) -> Map<String, J> {
    match serde_json::to_value(t) {
        Ok(J::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Builds a patch that sets the given fields to the given JSON values.
pub fn patch_from(fields: &Map<String, J>) -> Result<TaskPatch> {
    let mut p = TaskPatch::default();
    let bad = |f: &str, e: serde_json::Error| Error::invalid(f, format!("unreadable value: {e}"));
    for (f, v) in fields {
        match f.as_str() {
            "title" => p.title = Some(serde_json::from_value(v.clone()).map_err(|e| bad(f, e))?),
            "description" => {
                p.description = Some(serde_json::from_value(v.clone()).map_err(|e| bad(f, e))?)
            }
            "status" => {
                p.status =
                    Some(serde_json::from_value::<TaskStatus>(v.clone()).map_err(|e| bad(f, e))?)
            }
            "priority" => {
                p.priority =
                    Some(serde_json::from_value::<TaskPriority>(v.clone()).map_err(|e| bad(f, e))?)
            }
            "assignee_id" => {
                p.assignee_id = Some(serde_json::from_value(v.clone()).map_err(|e| bad(f, e))?)
            }
            "due_date" => {
                p.due_date = Some(serde_json::from_value(v.clone()).map_err(|e| bad(f, e))?)
            }
            "metadata" => p.metadata = Some(v.clone()),
            other => {
                return Err(Error::invalid(
                    "field",
                    format!("{other} is not a task field that sync can change"),
                ))
            }
        }
    }
    Ok(p)
}

/// Edits a task on the cache and records the mutation, in one cache transaction. Returns the
/// outbox entry, or `None` when the patch changed nothing.
pub async fn edit_task(
    cache: &Cache,
    op: &Operator,
    id: Uuid,
    patch: &TaskPatch,
) -> Result<Option<Entry>> {
    let mut tx = cache.db.begin().await?;
    let e = edit_task_in(&mut tx, op, id, patch).await?;
    if e.is_some() {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(e)
}

/// [`edit_task`] inside an open cache transaction.
pub async fn edit_task_in(
    tx: &mut Tx,
    op: &Operator,
    id: Uuid,
    patch: &TaskPatch,
) -> Result<Option<Entry>> {
    crate::cache::writer_on(tx).await?;
    let (old, new) = tasks::update_in(tx, op, id, patch).await?;
    crate::cache::writer_off(tx).await?;
    let (a, b) = (task_json(&old), task_json(&new));
    let mut base = Map::new();
    let mut newv = Map::new();
    for f in TASK_FIELDS {
        let (x, y) = (a.get(*f).unwrap_or(&J::Null), b.get(*f).unwrap_or(&J::Null));
        if x != y {
            base.insert((*f).to_owned(), x.clone());
            newv.insert((*f).to_owned(), y.clone());
        }
    }
    if newv.is_empty() {
        return Ok(None);
    }
    let e = Entry {
        seq: 0,
        mutation_id: Uuid::new_v4(),
        table: "Task".into(),
        row_id: id,
        base,
        new: newv,
        operator_id: op.user_id,
        operator_email: op.email.clone(),
        local_time: now(),
        status: "pending".into(),
    };
    append(tx, &e).await?;
    Ok(Some(e))
}

/// Appends an entry to the outbox inside `tx`, with the cache's schema version.
pub(crate) async fn append(tx: &mut Tx, e: &Entry) -> Result<()> {
    tx.execute(
        r#"INSERT INTO "SyncOutbox" ("mutation_id", "table_name", "row_id", "base", "new", "operator_id", "operator_email", "local_time", "status", "schema_version")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', (SELECT max("version") FROM "_ncy_migrations"))"#,
        &params![
            e.mutation_id,
            e.table.as_str(),
            e.row_id,
            J::Object(e.base.clone()),
            J::Object(e.new.clone()),
            e.operator_id,
            e.operator_email.as_str(),
            e.local_time
        ],
    )
    .await?;
    Ok(())
}

/// A row of [`ENTRY_COLS`], as stored (`base` and `new` may be NULL).
#[derive(Deserialize)]
struct EntryRow {
    seq: i64,
    mutation_id: Uuid,
    table_name: String,
    row_id: Uuid,
    base: Option<J>,
    new: Option<J>,
    operator_id: Uuid,
    operator_email: String,
    local_time: NaiveDateTime,
    status: String,
}

pub(crate) fn entry_from(r: &ncy_core::db::Row) -> Result<Entry> {
    // A NULL or a value other than an object reads as no fields.
    let obj = |v: Option<J>| match v {
        Some(J::Object(m)) => m,
        _ => Map::new(),
    };
    let r: EntryRow = r.decode()?;
    Ok(Entry {
        seq: r.seq,
        mutation_id: r.mutation_id,
        table: r.table_name,
        row_id: r.row_id,
        base: obj(r.base),
        new: obj(r.new),
        operator_id: r.operator_id,
        operator_email: r.operator_email,
        local_time: r.local_time,
        status: r.status,
    })
}

const ENTRY_COLS: &str = r#""seq", "mutation_id", "table_name", "row_id", "base", "new", "operator_id", "operator_email", "local_time", "status""#;

/// Pending entries that are not parked, oldest first.
pub async fn pending(cache: &Cache) -> Result<Vec<Entry>> {
    let mut tx = cache.db.begin().await?;
    let rows = tx
        .query(
            &format!(
                r#"SELECT {ENTRY_COLS} FROM "SyncOutbox" WHERE "status" = 'pending' AND "parked_at" IS NULL ORDER BY "seq""#
            ),
            &[],
        )
        .await?;
    tx.rollback().await?;
    rows.iter().map(entry_from).collect()
}

/// Every entry (pushed ones included), oldest first.
pub async fn all(cache: &Cache) -> Result<Vec<Entry>> {
    let mut tx = cache.db.begin().await?;
    let rows = tx
        .query(
            &format!(r#"SELECT {ENTRY_COLS} FROM "SyncOutbox" ORDER BY "seq""#),
            &[],
        )
        .await?;
    tx.rollback().await?;
    rows.iter().map(entry_from).collect()
}

pub(crate) fn field_value(field: &str, v: &J) -> Result<Value> {
    Ok(match (field, v) {
        (_, J::Null) => Value::Null(ncy_core::db::Kind::Text),
        ("metadata", v) => Value::Text(v.to_string()),
        ("due_date", J::String(s)) => match ncy_core::db::parse_ts(s) {
            Some(t) => Value::Ts(t),
            None => return Err(Error::db(format!("bad due_date in the outbox: {s}"))),
        },
        (_, J::String(s)) => Value::Text(s.clone()),
        (_, other) => Value::Text(other.to_string()),
    })
}

/// Re-applies pending entries (of these tasks, or all of them) on top of the rows just pulled,
/// so the cache keeps showing the operator's unpushed edits. Re-applying is idempotent.
pub(crate) async fn rebase(ltx: &mut Tx, task_ids: Option<&[String]>) -> Result<()> {
    let rows = match task_ids {
        Some([]) => return Ok(()),
        Some(ids) => {
            let json = serde_json::to_string(ids).map_err(|e| Error::db(e.to_string()))?;
            ltx.query(
                &format!(
                    r#"SELECT {ENTRY_COLS} FROM "SyncOutbox" WHERE "status" = 'pending' AND "parked_at" IS NULL
                       AND "row_id" IN (SELECT value FROM json_each($1)) ORDER BY "seq""#
                ),
                &[Value::Text(json)],
            )
            .await?
        }
        None => {
            ltx.query(
                &format!(
                    r#"SELECT {ENTRY_COLS} FROM "SyncOutbox" WHERE "status" = 'pending' AND "parked_at" IS NULL ORDER BY "seq""#
                ),
                &[],
            )
            .await?
        }
    };
    for r in &rows {
        let e = entry_from(r)?;
        for (f, v) in &e.new {
            if !TASK_FIELDS.contains(&f.as_str()) {
                continue;
            }
            ltx.execute(
                &format!(r#"UPDATE "Task" SET "{f}" = $1 WHERE "id" = $2"#),
                &[field_value(f, v)?, Value::Uuid(e.row_id)],
            )
            .await?;
        }
    }
    Ok(())
}
