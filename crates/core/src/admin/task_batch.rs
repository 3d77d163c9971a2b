//! Many task edits in one transaction, written set-wise (the batch path of the offline push):
//! the rows are locked with one statement, each edit is planned in memory exactly as
//! [`tasks::update_in`](super::tasks::update_in) plans it ([`plan_update`](super::tasks::plan_update)),
//! and the results are written with one UPDATE per set of changed columns. An operator's
//! database role may update only some columns (an assignee: status and metadata), so a statement
//! never names a column its rows did not change.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value as J};
use uuid::Uuid;

use super::tasks::{Task, COLS};
use crate::auth::Operator;
use crate::db::{Dialect, Tx, Value};
use crate::error::Result;

/// Loads these tasks inside `tx`, locking them on PostgreSQL in id order (so concurrent
/// batches cannot deadlock on each other). Missing (or hidden) tasks are absent from the map.
pub async fn lock_many(tx: &mut Tx, ids: &[Uuid]) -> Result<HashMap<Uuid, Task>> {
    let mut unique: Vec<Uuid> = ids.to_vec();
    unique.sort();
    unique.dedup();
    let mut out = HashMap::with_capacity(unique.len());
    if unique.is_empty() {
        return Ok(out);
    }
    let (cond, lock) = match tx.dialect() {
        Dialect::Postgres => (r#"t."id" = ANY($1::uuid[])"#, " FOR UPDATE"),
        Dialect::Sqlite => (r#"t."id" IN (SELECT value FROM json_each($1))"#, ""),
    };
    let ids: Vec<String> = unique.iter().map(Uuid::to_string).collect();
    let param = match tx.dialect() {
        Dialect::Postgres => Value::TextArray(ids),
        Dialect::Sqlite => Value::Text(J::from(ids).to_string()),
    };
    let sql = format!(r#"SELECT {COLS} FROM "Task" t WHERE {cond} ORDER BY t."id"{lock}"#);
    for r in tx.query(&sql, &[param]).await? {
        let t = Task::from_row(&r)?;
        out.insert(t.id, t);
    }
    Ok(out)
}

/// The ones of these user ids that exist and are not deleted (assignee checks of a batch).
pub async fn live_users(tx: &mut Tx, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
    let mut out = HashSet::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let (sql, param) = match tx.dialect() {
        Dialect::Postgres => (
            r#"SELECT "id" FROM "User" WHERE "id" = ANY($1::uuid[]) AND "deleted_at" IS NULL"#,
            Value::TextArray(ids),
        ),
        Dialect::Sqlite => (
            r#"SELECT "id" FROM "User" WHERE "id" IN (SELECT value FROM json_each($1)) AND "deleted_at" IS NULL"#,
            Value::Text(J::from(ids).to_string()),
        ),
    };
    out.extend(tx.query_as::<Uuid>(sql, &[param]).await?);
    Ok(out)
}

/// A column a task edit may change: name, SQL type in `jsonb_to_recordset`, and its value.
type Col = (&'static str, &'static str, fn(&Task) -> J);

const EDITABLE: &[Col] = &[
    ("title", "text", |t| J::from(t.title.clone())),
    ("description", "text", |t| json!(t.description)),
    ("status", r#""TaskStatus""#, |t| json!(t.status)),
    ("priority", r#""TaskPriority""#, |t| json!(t.priority)),
    ("assignee_id", "uuid", |t| json!(t.assignee_id)),
    ("due_date", "timestamp(3)", |t| {
        json!(t.due_date.map(|d| crate::db::format_ts(&d)))
    }),
    ("metadata", "jsonb", |t| t.metadata.clone()),
    ("deleted_at", "timestamp(3)", |t| {
        json!(t.deleted_at.map(|d| crate::db::format_ts(&d)))
    }),
];

/// Writes many edits (old → new, each task at most once) in `tx`: on PostgreSQL one UPDATE per
/// set of changed columns, fed by one JSON parameter; on SQLite one UPDATE per task. A row that
/// is not updated (Row-Level Security hides it), or that `op` may not write by their role in its
/// organization, refuses the whole call.
pub async fn write_many(tx: &mut Tx, op: &Operator, edits: &[(&Task, &Task)]) -> Result<()> {
    let mut pw = super::tasks::power::TaskPower::load(tx, op).await?;
    for (o, n) in edits {
        pw.require_write(tx, o, n).await?;
    }
    if tx.dialect() == Dialect::Sqlite {
        for (o, n) in edits {
            super::tasks::write(tx, o, n).await?;
        }
        return Ok(());
    }
    // Group by the changed columns (a bit per column of EDITABLE).
    let mut groups: BTreeMap<u32, Vec<(&Task, &Task)>> = BTreeMap::new();
    for (o, n) in edits {
        let mask = EDITABLE
            .iter()
            .enumerate()
            .filter(|(_, (_, _, get))| get(o) != get(n))
            .fold(0u32, |m, (i, _)| m | (1 << i));
        groups.entry(mask).or_default().push((o, n));
    }
    for (mask, rows) in groups {
        let cols: Vec<&Col> = EDITABLE
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect();
        let data: Vec<J> = rows
            .iter()
            .map(|(_, n)| {
                let mut m = Map::new();
                m.insert("id".into(), J::from(n.id.to_string()));
                m.insert(
                    "updated_at".into(),
                    J::from(crate::db::format_ts(&n.updated_at)),
                );
                for (name, _, get) in &cols {
                    m.insert((*name).into(), get(n));
                }
                J::Object(m)
            })
            .collect();
        let mut sets = vec![r#""updated_at" = v."updated_at""#.to_owned()];
        let mut types = vec![
            r#""id" uuid"#.to_owned(),
            r#""updated_at" timestamp(3)"#.into(),
        ];
        for (name, ty, _) in &cols {
            sets.push(format!(r#""{name}" = v."{name}""#));
            types.push(format!(r#""{name}" {ty}"#));
        }
        let sql = format!(
            r#"UPDATE "Task" t SET {} FROM jsonb_to_recordset($1::jsonb) AS v({}) WHERE t."id" = v."id""#,
            sets.join(", "),
            types.join(", ")
        );
        let n = tx.execute(&sql, &[Value::Json(J::Array(data))]).await?;
        if n != rows.len() as u64 {
            return Err(super::tasks::power::refused());
        }
    }
    Ok(())
}
