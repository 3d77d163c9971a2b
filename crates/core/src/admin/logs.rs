//! Read-only viewers of AccessLog and ErrorLog with filters and keyset pages, on both layouts
//! of these tables (one table, or partitioned by month: see [`crate::partition`]). The keyset
//! condition also bounds the timestamp alone, so a partitioned table's partitions newer than
//! the cursor are pruned.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{like_pattern, limit, page_of as page, Cursor, Page, Where};
use crate::auth::{perm, Operator};
use crate::db::{Db, Row};
use crate::error::Result;
use crate::model::LogLevel;
use crate::partition;

/// One AccessLog row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AccessEntry {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub method: String,
    pub endpoint: String,
    pub status_code: i64,
    pub latency_ms: Option<i64>,
    pub timestamp: NaiveDateTime,
}

/// AccessLog filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AccessFilter {
    pub user_id: Option<Uuid>,
    pub method: Option<String>,
    /// Substring of the endpoint.
    pub endpoint: Option<String>,
    /// Exact status code, or a class: 400 with `status_class` = true means 4xx.
    pub status: Option<i64>,
    #[serde(default)]
    pub status_class: bool,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn access_row(r: &Row) -> Result<AccessEntry> {
    r.decode()
}

/// Lists AccessLog rows, newest first.
pub async fn access(
    db: &Db,
    op: &Operator,
    f: &AccessFilter,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<AccessEntry>> {
    op.require(perm::LOGS_READ)?;
    let lim = limit(lim)?;
    let mut w = Where::default();
    if let Some(u) = f.user_id {
        w.push(|p| format!(r#""user_id" = {p}"#), u);
    }
    if let Some(m) = &f.method {
        w.push(|p| format!(r#""method" = {p}"#), m.trim().to_uppercase());
    }
    if let Some(e) = f.endpoint.as_deref().filter(|e| !e.is_empty()) {
        w.push(
            |p| format!(r#""endpoint" ILIKE {p} ESCAPE '\'"#),
            like_pattern(e),
        );
    }
    if let Some(s) = f.status {
        if f.status_class {
            let lo = s / 100 * 100;
            w.push(|p| format!(r#""status_code" >= {p}"#), lo);
            w.push(|p| format!(r#""status_code" < {p}"#), lo + 100);
        } else {
            w.push(|p| format!(r#""status_code" = {p}"#), s);
        }
    }
    if let Some(t) = f.since {
        w.push(|p| format!(r#""timestamp" >= {p}"#), t);
    }
    if let Some(t) = f.until {
        w.push(|p| format!(r#""timestamp" < {p}"#), t);
    }
    if let Some(c) = after {
        let c = Cursor::decode(c)?;
        w.push(|p| format!(r#""timestamp" <= {p}"#), c.ts);
        w.before(r#""timestamp""#, r#""id""#, &c);
    }
    let cols = r#""id", "user_id", "method", "endpoint", "status_code", "latency_ms", "timestamp""#;
    let mut tx = db.begin_read().await?;
    let from = partition::source(&mut tx, "AccessLog", cols).await?;
    let sql = format!(
        r#"SELECT {cols} FROM {from} {} ORDER BY "timestamp" DESC, "id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let rows = tx.query(&sql, &w.params).await?;
    tx.rollback().await?;
    let items = rows.iter().map(access_row).collect::<Result<Vec<_>>>()?;
    Ok(page(items, lim, |e| Cursor {
        ts: e.timestamp,
        id: e.id,
    }))
}

/// One ErrorLog row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErrorEntry {
    pub id: Uuid,
    pub service: String,
    pub level: LogLevel,
    pub message: String,
    pub stack: Option<String>,
    pub context: serde_json::Value,
    pub created_at: NaiveDateTime,
}

/// ErrorLog filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErrorFilter {
    pub service: Option<String>,
    /// Minimum level (e.g. WARN shows WARN, ERROR, FATAL).
    pub min_level: Option<LogLevel>,
    /// Substring of the message.
    pub search: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// Lists ErrorLog rows, newest first.
pub async fn errors(
    db: &Db,
    op: &Operator,
    f: &ErrorFilter,
    lim: u32,
    after: Option<&str>,
) -> Result<Page<ErrorEntry>> {
    op.require(perm::LOGS_READ)?;
    let lim = limit(lim)?;
    let mut w = Where::default();
    if let Some(s) = &f.service {
        w.push(|p| format!(r#""service" = {p}"#), s.trim());
    }
    if let Some(l) = f.min_level {
        let levels: Vec<String> = LogLevel::ALL
            .iter()
            .filter(|x| **x >= l)
            .map(|x| format!("'{}'", x.as_str()))
            .collect();
        w.clauses
            .push(format!(r#""level"::text IN ({})"#, levels.join(", ")));
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.is_empty()) {
        w.push(
            |p| format!(r#""message" ILIKE {p} ESCAPE '\'"#),
            like_pattern(s),
        );
    }
    if let Some(t) = f.since {
        w.push(|p| format!(r#""created_at" >= {p}"#), t);
    }
    if let Some(t) = f.until {
        w.push(|p| format!(r#""created_at" < {p}"#), t);
    }
    if let Some(c) = after {
        let c = Cursor::decode(c)?;
        w.push(|p| format!(r#""created_at" <= {p}"#), c.ts);
        w.before(r#""created_at""#, r#""id""#, &c);
    }
    let mut tx = db.begin_read().await?;
    let from = partition::source(
        &mut tx,
        "ErrorLog",
        r#""id", "service", "level", "message", "stack", "context", "created_at""#,
    )
    .await?;
    let sql = format!(
        r#"SELECT "id", "service", "level"::text AS level, "message", "stack", COALESCE("context", '{{}}') AS context, "created_at" FROM {from} {} ORDER BY "created_at" DESC, "id" DESC LIMIT {}"#,
        w.sql(),
        lim + 1
    );
    let items: Vec<ErrorEntry> = tx.query_as(&sql, &w.params).await?;
    tx.rollback().await?;
    Ok(page(items, lim, |e| Cursor {
        ts: e.created_at,
        id: e.id,
    }))
}
