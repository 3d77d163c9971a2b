//! The outbox as a queue that never stalls: what waits (`pending`), what failed for a passing
//! reason and will be tried again after a backoff (`failed`), and what the server can never
//! apply (`parked`, with its reason, skipped by every push). An operator can retry, park or
//! discard an entry; a discard is audited in the cache and puts the task back as it was.

use chrono::NaiveDateTime;
use ncy_core::audit::{self, Entry as AuditEntry};
use ncy_core::auth::Operator;
use ncy_core::db::{now, Row, Value};
use ncy_core::{params, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};

use crate::cache::Cache;
use crate::outbox::{self, Entry};

/// The longest wait between two automatic tries.
pub const MAX_BACKOFF_SECS: i64 = 300;

/// One entry of the outbox that has not reached the server.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "OutboxItem"))]
pub struct Item {
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub entry: Entry,
    /// `pending`, `failed` (tried, will be tried again) or `parked`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub parked_at: Option<NaiveDateTime>,
    /// The cache's schema version when the edit was queued.
    pub schema_version: Option<i64>,
}

/// The wait after `attempts` failed tries: 1 s, 2 s, 4 s, … up to [`MAX_BACKOFF_SECS`].
pub fn backoff(attempts: i64) -> chrono::Duration {
    let secs = 1i64
        .checked_shl(attempts.clamp(0, 30) as u32)
        .unwrap_or(MAX_BACKOFF_SECS);
    chrono::Duration::seconds(secs.min(MAX_BACKOFF_SECS))
}

const ITEM_COLS: &str = r#""seq", "mutation_id", "table_name", "row_id", "base", "new", "operator_id", "operator_email", "local_time", "status", "attempts", "last_error", "next_attempt_at", "parked_at", "schema_version""#;

/// The queue's columns of [`ITEM_COLS`] (the entry's are read by [`outbox::entry_from`]).
#[derive(Deserialize)]
struct QueueRow {
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: Option<NaiveDateTime>,
    parked_at: Option<NaiveDateTime>,
    schema_version: Option<i64>,
}

fn item_from(r: &Row) -> Result<Item> {
    let entry = outbox::entry_from(r)?;
    let QueueRow {
        attempts,
        last_error,
        next_attempt_at,
        parked_at,
        schema_version,
    } = r.decode()?;
    let state = if parked_at.is_some() {
        "parked"
    } else if attempts > 0 {
        "failed"
    } else {
        "pending"
    };
    Ok(Item {
        entry,
        state: state.into(),
        attempts,
        last_error,
        next_attempt_at,
        parked_at,
        schema_version,
    })
}

/// Every entry not yet accepted by the server, oldest first.
pub async fn list(cache: &Cache) -> Result<Vec<Item>> {
    let rows = cache
        .db
        .query(
            &format!(
                r#"SELECT {ITEM_COLS} FROM "SyncOutbox" WHERE "status" = 'pending' ORDER BY "seq""#
            ),
            &[],
        )
        .await?;
    rows.iter().map(item_from).collect()
}

/// Finds one waiting entry by its outbox number (`seq`) or mutation id.
pub async fn find(cache: &Cache, id: &str) -> Result<Item> {
    let (cond, p): (&str, Value) = match id.parse::<i64>() {
        Ok(n) => (r#""seq" = $1"#, Value::Int(n)),
        Err(_) => match uuid::Uuid::parse_str(id) {
            Ok(u) => (r#""mutation_id" = $1"#, Value::Uuid(u)),
            Err(_) => {
                return Err(Error::invalid(
                    "outbox entry",
                    format!(
                        "{id} is neither an outbox number nor a mutation id (see `sync outbox`)"
                    ),
                ))
            }
        },
    };
    let rows = cache
        .db
        .query(
            &format!(
                r#"SELECT {ITEM_COLS} FROM "SyncOutbox" WHERE {cond} AND "status" = 'pending'"#
            ),
            &[p],
        )
        .await?;
    rows.first()
        .map(item_from)
        .transpose()?
        .ok_or_else(|| Error::not_found("waiting outbox entry", id))
}

/// Counts a failed try for every waiting, unparked entry: the error and the next try's time.
pub async fn record_failure(cache: &Cache, err: &Error) -> Result<()> {
    #[derive(Deserialize)]
    struct Waiting {
        seq: i64,
        attempts: i64,
    }
    let mut tx = cache.db.begin().await?;
    let rows: Vec<Waiting> = tx
        .query_as(
            r#"SELECT "seq", "attempts" FROM "SyncOutbox" WHERE "status" = 'pending' AND "parked_at" IS NULL"#,
            &[],
        )
        .await?;
    let t = now();
    for r in rows {
        let attempts = r.attempts + 1;
        tx.execute(
            r#"UPDATE "SyncOutbox" SET "attempts" = $2, "last_error" = $3, "next_attempt_at" = $4 WHERE "seq" = $1"#,
            &params![r.seq, attempts, err.to_string(), t + backoff(attempts)],
        )
        .await?;
    }
    tx.commit().await
}

/// When the next automatic retry of a failed push is due (None when no entry failed): what a
/// running window waits for, leaving fresh edits to the operator's "Sync now".
pub async fn next_retry(cache: &Cache) -> Result<Option<NaiveDateTime>> {
    let r = cache
        .db
        .query(
            r#"SELECT min("next_attempt_at") AS t FROM "SyncOutbox"
               WHERE "status" = 'pending' AND "parked_at" IS NULL AND "attempts" > 0"#,
            &[],
        )
        .await?;
    #[derive(Deserialize)]
    struct NextRetry {
        t: Option<NaiveDateTime>,
    }
    match r.first() {
        Some(row) => Ok(row.decode::<NextRetry>()?.t),
        None => Ok(None),
    }
}

/// When the next automatic try is due: None when nothing waits, else the earliest
/// `next_attempt_at` (an entry never tried is due now).
pub async fn next_due(cache: &Cache) -> Result<Option<NaiveDateTime>> {
    let rows = cache
        .db
        .query(
            r#"SELECT "next_attempt_at" FROM "SyncOutbox" WHERE "status" = 'pending' AND "parked_at" IS NULL"#,
            &[],
        )
        .await?;
    let mut due: Option<NaiveDateTime> = None;
    #[derive(Deserialize)]
    struct Due {
        next_attempt_at: Option<NaiveDateTime>,
    }
    for r in rows {
        let at = r.decode::<Due>()?.next_attempt_at.unwrap_or_else(now);
        due = Some(due.map_or(at, |d| d.min(at)));
    }
    Ok(due)
}

/// Parks an entry with a reason: pushes skip it until it is retried.
pub async fn park(cache: &Cache, id: &str, reason: &str) -> Result<Item> {
    let it = find(cache, id).await?;
    park_seq(cache, it.entry.seq, reason).await?;
    find(cache, &it.entry.seq.to_string()).await
}

pub(crate) async fn park_seq(cache: &Cache, seq: i64, reason: &str) -> Result<()> {
    let mut tx = cache.db.begin().await?;
    tx.execute(
        r#"UPDATE "SyncOutbox" SET "parked_at" = $2, "last_error" = $3, "next_attempt_at" = NULL WHERE "seq" = $1"#,
        &params![seq, now(), reason],
    )
    .await?;
    // The cached task no longer shows the parked edit.
    put_back(&mut tx, seq).await?;
    tx.commit().await
}

/// Puts a parked or failed entry back in line, to be tried at the next push.
pub async fn retry(cache: &Cache, id: &str) -> Result<Item> {
    let it = find(cache, id).await?;
    let mut tx = cache.db.begin().await?;
    tx.execute(
        r#"UPDATE "SyncOutbox" SET "parked_at" = NULL, "attempts" = 0, "next_attempt_at" = NULL, "last_error" = NULL WHERE "seq" = $1"#,
        &params![it.entry.seq],
    )
    .await?;
    crate::cache::writer_on(&mut tx).await?;
    outbox::rebase(&mut tx, Some(&[it.entry.row_id.to_string()])).await?;
    crate::cache::writer_off(&mut tx).await?;
    tx.commit().await?;
    find(cache, id).await
}

/// Drops an entry for good: the cached task gets its fields back as they were before the edit
/// (later waiting edits of it re-applied), and the drop is audited in the cache.
pub async fn discard(cache: &Cache, op: &Operator, id: &str) -> Result<Item> {
    let it = find(cache, id).await?;
    let mut tx = cache.db.begin().await?;
    tx.execute(
        r#"DELETE FROM "SyncOutbox" WHERE "seq" = $1"#,
        &params![it.entry.seq],
    )
    .await?;
    restore_base(&mut tx, &it.entry).await?;
    audit::record(
        &mut tx,
        op,
        AuditEntry {
            action: "SYNC_DISCARD",
            table: "Task",
            target_id: Some(it.entry.row_id),
            old: Some(json!({
                "mutation_id": it.entry.mutation_id,
                "fields": J::Object(it.entry.new.clone()),
                "state": it.state,
                "last_error": it.last_error,
            })),
            new: Some(J::Object(it.entry.base.clone())),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(it)
}

/// Sets the entry's fields back to their base values, then re-applies the task's other waiting
/// edits.
async fn restore_base(tx: &mut ncy_core::db::Tx, e: &Entry) -> Result<()> {
    crate::cache::writer_on(tx).await?;
    for (f, v) in &e.base {
        if !outbox::TASK_FIELDS.contains(&f.as_str()) {
            continue;
        }
        tx.execute(
            &format!(r#"UPDATE "Task" SET "{f}" = $1 WHERE "id" = $2"#),
            &[outbox::field_value(f, v)?, Value::Uuid(e.row_id)],
        )
        .await?;
    }
    outbox::rebase(tx, Some(&[e.row_id.to_string()])).await?;
    crate::cache::writer_off(tx).await
}

async fn put_back(tx: &mut ncy_core::db::Tx, seq: i64) -> Result<()> {
    let rows = tx
        .query(
            &format!(r#"SELECT {ITEM_COLS} FROM "SyncOutbox" WHERE "seq" = $1"#),
            &params![seq],
        )
        .await?;
    match rows.first() {
        Some(r) => restore_base(tx, &outbox::entry_from(r)?).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0).num_seconds(), 1);
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(5).num_seconds(), 32);
        assert_eq!(backoff(9).num_seconds(), MAX_BACKOFF_SECS);
        assert_eq!(backoff(1000).num_seconds(), MAX_BACKOFF_SECS);
    }
}
