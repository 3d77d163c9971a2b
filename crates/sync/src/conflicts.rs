//! Conflicts kept in the cache with base, mine and theirs, and their resolution. Keeping mine or
//! giving a new value becomes a new offline edit (a new mutation, merged again on push, whose
//! base is the server value now in the cache); keeping theirs closes the conflict (the server
//! already holds that value).

use chrono::NaiveDateTime;
use ncy_core::auth::Operator;
use ncy_core::db::{now, parse_ts, Row};
use ncy_core::model::{TaskPriority, TaskStatus};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};
use uuid::Uuid;

use crate::cache::Cache;
use crate::outbox::{edit_task_in, patch_from, Entry};

/// One conflict.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Conflict {
    pub id: Uuid,
    pub mutation_id: Uuid,
    pub table: String,
    pub row_id: Uuid,
    pub field: String,
    pub base: J,
    pub mine: J,
    pub theirs: J,
    pub reason: String,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    pub resolution: Option<String>,
}

/// How to resolve a conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Mine,
    Theirs,
    /// A new value, as typed (parsed according to the field).
    Value(String),
}

impl Resolution {
    /// The operator's choice: `keep` is `mine` or `theirs`, or `value` gives a new value (which
    /// wins when both are given).
    pub fn choose(keep: Option<&str>, value: Option<String>) -> Result<Resolution> {
        match (keep, value) {
            (_, Some(v)) => Ok(Resolution::Value(v)),
            (Some("mine"), None) => Ok(Resolution::Mine),
            (Some("theirs"), None) => Ok(Resolution::Theirs),
            _ => Err(Error::invalid(
                "resolution",
                "keep mine, keep theirs, or give a new value",
            )),
        }
    }
}

fn from_row(r: &Row) -> Result<Conflict> {
    r.decode()
}

const COLS: &str = r#""id", "mutation_id", "table_name" AS "table", "row_id", "field", "base", "mine", "theirs", "reason", "created_at", "resolved_at", "resolution""#;

/// Lists conflicts, oldest first (open ones only unless `all`).
pub async fn list(cache: &Cache, all: bool) -> Result<Vec<Conflict>> {
    let mut tx = cache.db.begin().await?;
    let rows = tx
        .query(
            &format!(
                r#"SELECT {COLS} FROM "SyncConflict" {} ORDER BY "created_at", "id""#,
                if all {
                    ""
                } else {
                    r#"WHERE "resolved_at" IS NULL"#
                }
            ),
            &[],
        )
        .await?;
    tx.rollback().await?;
    rows.iter().map(from_row).collect()
}

/// Parses a typed value for a task field into its JSON form.
pub fn parse_value(field: &str, v: &str) -> Result<J> {
    let t = v.trim();
    let nullable = matches!(field, "description" | "assignee_id" | "due_date");
    if t.is_empty() && nullable {
        return Ok(J::Null);
    }
    Ok(match field {
        "title" | "description" => J::String(v.to_owned()),
        "status" => J::String(TaskStatus::parse(t)?.as_str().into()),
        "priority" => J::String(TaskPriority::parse(t)?.as_str().into()),
        "assignee_id" => J::String(
            Uuid::parse_str(t)
                .map_err(|_| Error::invalid("value", format!("{t:?} is not a user id (UUID)")))?
                .to_string(),
        ),
        "due_date" => {
            let ts = parse_ts(t).ok_or_else(|| {
                Error::invalid("value", format!("{t:?} is not a date (YYYY-MM-DD [HH:MM])"))
            })?;
            serde_json::to_value(ts).map_err(|e| Error::db(e.to_string()))?
        }
        "metadata" => {
            let j: J = serde_json::from_str(t)
                .map_err(|e| Error::invalid("value", format!("not JSON: {e}")))?;
            if !j.is_object() {
                return Err(Error::invalid("value", "metadata must be a JSON object"));
            }
            j
        }
        other => return Err(Error::invalid("field", format!("{other} cannot be set"))),
    })
}

/// What a resolution did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Resolved {
    pub conflict: Conflict,
    /// The new mutation queued for push (keep mine / a new value that differs from the cache).
    pub mutation: Option<Entry>,
}

/// Resolves a conflict; keep mine / a new value becomes a new mutation, in the same cache
/// transaction that closes the conflict.
pub async fn resolve(cache: &Cache, op: &Operator, id: Uuid, how: &Resolution) -> Result<Resolved> {
    let mut tx = cache.db.begin().await?;
    let row = tx
        .query_opt(
            &format!(r#"SELECT {COLS} FROM "SyncConflict" WHERE "id" = $1"#),
            &params![id],
        )
        .await?
        .ok_or_else(|| Error::not_found("conflict", id))?;
    let mut c = from_row(&row)?;
    if c.resolved_at.is_some() {
        return Err(Error::conflict(
            "conflict",
            "this conflict is already resolved",
        ));
    }
    let (label, value) = match how {
        Resolution::Theirs => ("theirs", None),
        Resolution::Mine => ("mine", Some(c.mine.clone())),
        Resolution::Value(v) => ("value", Some(parse_value(&c.field, v)?)),
    };
    let mut mutation = None;
    if let Some(v) = value {
        #[derive(Deserialize)]
        struct Live {
            deleted_at: Option<NaiveDateTime>,
        }
        let live: Option<Live> = tx
            .query_opt_as(
                r#"SELECT "deleted_at" FROM "Task" WHERE "id" = $1"#,
                &params![c.row_id],
            )
            .await?;
        let deleted = match &live {
            None => true,
            Some(r) => r.deleted_at.is_some(),
        };
        if deleted {
            return Err(Error::invalid(
                "conflict",
                "the task was deleted on the server; restore it online (then sync) before keeping your value, or keep theirs",
            ));
        }
        let mut m = Map::new();
        m.insert(c.field.clone(), v);
        mutation = edit_task_in(&mut tx, op, c.row_id, &patch_from(&m)?).await?;
    }
    let t = now();
    tx.execute(
        r#"UPDATE "SyncConflict" SET "resolved_at" = $2, "resolution" = $3 WHERE "id" = $1"#,
        &params![id, t, label],
    )
    .await?;
    tx.commit().await?;
    c.resolved_at = Some(t);
    c.resolution = Some(label.into());
    Ok(Resolved {
        conflict: c,
        mutation,
    })
}

#[cfg(test)]
mod choice_tests {
    use super::Resolution;

    #[test]
    fn a_choice_is_mine_theirs_or_a_value() {
        assert_eq!(
            Resolution::choose(Some("mine"), None).unwrap(),
            Resolution::Mine
        );
        assert_eq!(
            Resolution::choose(Some("theirs"), None).unwrap(),
            Resolution::Theirs
        );
        assert_eq!(
            Resolution::choose(None, Some("LOW".into())).unwrap(),
            Resolution::Value("LOW".into())
        );
        let e = Resolution::choose(Some("both"), None).unwrap_err();
        assert!(e.to_string().contains("keep mine, keep theirs"), "{e}");
        assert!(Resolution::choose(None, None).is_err());
    }
}
